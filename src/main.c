/* main — only main, so the tests link everything else. */
#include "tomed/app.h"

extern char **environ;

int main(int argc, char **argv)
{
    return app_main(argc, argv, environ);
}
