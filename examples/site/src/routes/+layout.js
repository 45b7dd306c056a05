// Every route is prerendered to a static .html file by adapter-static.
export const prerender = true;
