#!/usr/bin/env node
// Validate Kubernetes objects offline against the API's JSON schemas, as
// packaged by the npm kubernetes-models family (versions pinned in
// package.json): core kinds from kubernetes-models, ArgoCD's Application from
// @kubernetes-models/argo-cd, the Prometheus Operator's ServiceMonitor and
// PrometheusRule from @kubernetes-models/prometheus-operator, Traefik's
// Middleware from @kubernetes-models/traefik, cert-manager's ClusterIssuer
// from @kubernetes-models/cert-manager.
//
//   node validate.mjs FILE...     YAML streams ("-" = stdin) or, for *.json,
//                                 a JSON array of objects
//
// On top of the schemas' own checks (types, enums, required fields), a field
// the schema does not know is an error, as with `kubectl apply
// --validate=strict` (the schemas alone accept, say, readOnlyRootFileSystem).
// A kind without a model is an error too. One line per object; exit status 1
// when any object failed, 2 for bad usage.
import { readFileSync } from "node:fs";
import YAML from "yaml";

// apiVersion -> module prefix of its models.
function modulePath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "argoproj.io") return `@kubernetes-models/argo-cd/${group}/${version}/${kind}`;
  if (group === "monitoring.coreos.com") {
    return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  }
  if (group === "traefik.io") return `@kubernetes-models/traefik/${group}/${version}/${kind}`;
  if (group === "cert-manager.io") return `@kubernetes-models/cert-manager/${group}/${version}/${kind}`;
  return group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
}

async function modelFor(apiVersion, kind) {
  if (!/^[A-Za-z0-9.\-/]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind)) return null;
  const spec = modulePath(apiVersion, kind);
  let mod;
  try {
    // import(), not require.resolve: newer model packages export ESM only
    mod = await import(spec);
  } catch (e) {
    if (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return null;
    throw e;
  }
  return mod[kind] || null;
}

// Wrap obj so that every property the validator looks at is recorded. After
// validation, an own property of an object the validator looked into but never
// read is unknown to the schema. Objects the validator enumerated (maps such as
// labels or ConfigMap data) count as read in full; objects it never looked
// into (free-form fields) are not judged.
function tracked(root) {
  const records = [];
  const proxies = new WeakMap();
  const wrap = (obj, where) => {
    if (obj === null || typeof obj !== "object") return obj;
    if (proxies.has(obj)) return proxies.get(obj);
    const rec = { obj, where, read: new Set(), touched: false };
    records.push(rec);
    const note = (k) => {
      rec.touched = true;
      if (typeof k === "string") rec.read.add(k);
    };
    const p = new Proxy(obj, {
      get(t, k, r) {
        note(k);
        const v = Reflect.get(t, k, r);
        return typeof k === "string" && Object.prototype.hasOwnProperty.call(t, k)
          ? wrap(v, `${where}/${k}`)
          : v;
      },
      has(t, k) {
        note(k);
        return Reflect.has(t, k);
      },
      getOwnPropertyDescriptor(t, k) {
        note(k);
        return Reflect.getOwnPropertyDescriptor(t, k);
      },
      ownKeys(t) {
        rec.touched = true;
        for (const k of Reflect.ownKeys(t)) if (typeof k === "string") rec.read.add(k);
        return Reflect.ownKeys(t);
      },
    });
    proxies.set(obj, p);
    return p;
  };
  const proxy = wrap(root, "");
  const unknown = () => {
    const out = [];
    for (const rec of records) {
      if (!rec.touched || Array.isArray(rec.obj)) continue;
      for (const k of Object.keys(rec.obj)) {
        if (!rec.read.has(k)) out.push(`${rec.where}/${k}`);
      }
    }
    return out;
  };
  return { proxy, unknown };
}

export async function validateObject(obj) {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return ["not an object"];
  const { apiVersion, kind } = obj;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["no apiVersion/kind"];
  const Model = await modelFor(apiVersion, kind);
  if (!Model) return [`no schema for ${apiVersion} ${kind} in the pinned kubernetes-models packages`];
  const errors = [];
  const copy = JSON.parse(JSON.stringify(obj));
  const { proxy, unknown } = tracked(copy);
  try {
    Model.prototype.validate.call(proxy);
  } catch (e) {
    errors.push(e.message);
  }
  for (const u of unknown()) errors.push(`data${u} is not a field of ${kind} (unknown to the schema)`);
  return errors;
}

function load(file) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  if (file.endsWith(".json")) return JSON.parse(text);
  const out = [];
  for (const d of YAML.parseAllDocuments(text)) {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

async function main(files) {
  if (!files.length) {
    process.stderr.write("usage: node validate.mjs FILE...   (YAML, or a JSON array; - = stdin)\n");
    return 2;
  }
  let failed = 0;
  let count = 0;
  for (const file of files) {
    let objs;
    try {
      objs = load(file);
    } catch (e) {
      process.stdout.write(`FAIL ${file}: ${e.message}\n`);
      failed++;
      count++;
      continue;
    }
    for (const obj of objs) {
      count++;
      const id = `${obj?.apiVersion} ${obj?.kind} ${obj?.metadata?.namespace ? obj.metadata.namespace + "/" : ""}${obj?.metadata?.name}`;
      const errors = await validateObject(obj);
      if (errors.length) {
        failed++;
        process.stdout.write(`FAIL ${file}: ${id}\n`);
        for (const e of errors) process.stdout.write(`       ${e}\n`);
      } else {
        process.stdout.write(`ok   ${file}: ${id}\n`);
      }
    }
  }
  process.stdout.write(`validate: ${count - failed} of ${count} objects valid\n`);
  return failed ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
