#!/usr/bin/env node
// A kustomize renderer for the subset of kustomize that deploy/k8s uses, for
// machines without kubectl (it is not in Debian 12; Debian's kubernetes-client
// 1.20 embeds kustomize 2.0, which predates `components` and `patches`).
//
//   node render.mjs DIR [--json]        render DIR/kustomization.yaml (YAML
//                                       stream, or a JSON array with --json)
//   node render.mjs --from-yaml FILE    parse a YAML stream (e.g. the output of
//                                       `kubectl kustomize`, "-" = stdin) into
//                                       a JSON array
//
// Implemented, as kustomize v5 does it (tests/integration/test_deploy.py
// compares the two outputs whenever kubectl is present):
//   resources (files and directories), components (kind: Component),
//   namespace (sets metadata.namespace on namespaced objects, renames
//   Namespace objects), configMapGenerator (files [key=]path, literals
//   K=V, behavior create/merge/replace, options labels/annotations, the
//   content-hash name suffix and the rewriting of references to it in pod
//   templates), patches given inline as
//   JSON 6902 operations (add, replace, remove, test) with a target of kind
//   and/or name, replicas, images (newName, newTag, digest).
// Anything else in a kustomization (a field, a patch form, a generator option)
// is an error, never ignored: the renderer refuses what it cannot reproduce.
import { createHash } from "node:crypto";
import { readFileSync, statSync, existsSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";

class RenderError extends Error {}

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const KNOWN_FIELDS = new Set([
  "apiVersion", "kind", "namespace", "resources", "components", "configMapGenerator",
  "patches", "images", "replicas",
]);
const GENERATOR_FIELDS = new Set(["name", "namespace", "behavior", "files", "literals", "options"]);
const GENERATOR_OPTIONS = new Set(["labels", "annotations"]);
// Kinds this renderer treats as cluster-scoped (no metadata.namespace).
const CLUSTER_SCOPED = new Set([
  "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
  "PersistentVolume", "StorageClass", "PriorityClass", "IngressClass", "ClusterIssuer",
  "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService", "Node",
]);
// kustomize's "legacy" output order.
const ORDER_FIRST = [
  "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount",
  "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap",
  "Secret", "Endpoints", "Service", "LimitRange", "PriorityClass", "PersistentVolume",
  "PersistentVolumeClaim", "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
];
const ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

export function parseYamlStream(text, where) {
  const docs = YAML.parseAllDocuments(text, { version: "1.2" });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new RenderError(`${where}: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v === null || v === undefined) continue;
    out.push(v);
  }
  return out;
}

function readKustomization(dir) {
  for (const f of KUSTOMIZATION_FILES) {
    const p = path.join(dir, f);
    if (existsSync(p)) {
      const docs = parseYamlStream(readFileSync(p, "utf8"), p);
      if (docs.length !== 1) throw new RenderError(`${p}: expected one YAML document`);
      const k = docs[0];
      for (const key of Object.keys(k)) {
        if (!KNOWN_FIELDS.has(key)) {
          throw new RenderError(`${p}: "${key}" is not supported by render.mjs`);
        }
      }
      return { file: p, k };
    }
  }
  throw new RenderError(`${dir}: no kustomization.yaml`);
}

// Only files inside the kustomization's directory may be read (kustomize's
// default load restrictor); directories (other kustomizations) may be anywhere.
function insideRoot(dir, rel, file) {
  const p = path.resolve(dir, rel);
  const r = path.relative(dir, p);
  if (r.startsWith("..") || path.isAbsolute(r)) {
    throw new RenderError(`${file}: ${rel}: file is not in or below ${dir} (kustomize refuses it)`);
  }
  return p;
}

const GENERATED = Symbol("generated"); // { name: the name before the hash suffix }

function literalPair(s, file) {
  const i = s.indexOf("=");
  if (i <= 0) throw new RenderError(`${file}: literal "${s}" is not KEY=VALUE`);
  let v = s.slice(i + 1);
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) v = v.slice(1, -1);
  return [s.slice(0, i), v];
}

function generatorData(dir, g, file) {
  const data = {};
  for (const f of g.files || []) {
    const i = f.indexOf("=");
    const key = i > 0 ? f.slice(0, i) : path.basename(f);
    const p = insideRoot(dir, i > 0 ? f.slice(i + 1) : f, file);
    if (key in data) throw new RenderError(`${file}: ${g.name}: key ${key} given twice`);
    data[key] = readFileSync(p, "utf8");
  }
  for (const l of g.literals || []) {
    const [k, v] = literalPair(l, file);
    if (k in data) throw new RenderError(`${file}: ${g.name}: key ${k} given twice`);
    data[k] = v;
  }
  return data;
}

function runGenerators(dir, k, file, res) {
  for (const g of k.configMapGenerator || []) {
    for (const key of Object.keys(g)) {
      if (!GENERATOR_FIELDS.has(key)) {
        throw new RenderError(`${file}: configMapGenerator ${g.name}: "${key}" is not supported`);
      }
    }
    for (const key of Object.keys(g.options || {})) {
      if (!GENERATOR_OPTIONS.has(key)) {
        throw new RenderError(`${file}: configMapGenerator ${g.name}: options.${key} is not supported`);
      }
    }
    const data = generatorData(dir, g, file);
    const behavior = g.behavior || "create";
    if (behavior === "create") {
      if (res.some((r) => r.kind === "ConfigMap" && nameOf(r) === g.name)) {
        throw new RenderError(`${file}: ConfigMap ${g.name} exists already (behavior: merge?)`);
      }
      const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: g.name }, data };
      if (g.namespace) cm.metadata.namespace = g.namespace;
      const opts = g.options || {};
      if (opts.labels) cm.metadata.labels = { ...opts.labels };
      if (opts.annotations) cm.metadata.annotations = { ...opts.annotations };
      cm[GENERATED] = { name: g.name };
      res.push(cm);
    } else if (behavior === "merge" || behavior === "replace") {
      const cm = res.find((r) => r.kind === "ConfigMap" && nameOf(r) === g.name);
      if (!cm) throw new RenderError(`${file}: ConfigMap ${g.name} to ${behavior} not found`);
      cm.data = behavior === "merge" ? { ...(cm.data || {}), ...data } : data;
    } else {
      throw new RenderError(`${file}: configMapGenerator ${g.name}: behavior ${behavior}`);
    }
  }
}

function nameOf(r) {
  return (r[GENERATED] && r[GENERATED].name) || (r.metadata && r.metadata.name);
}

function anchored(re) {
  return new RegExp(`^(?:${re})$`);
}

function matchesTarget(r, t) {
  for (const key of Object.keys(t)) {
    if (!["kind", "name", "group", "version", "namespace"].includes(key)) {
      throw new RenderError(`patch target field "${key}" is not supported`);
    }
  }
  if (t.kind && !anchored(t.kind).test(r.kind)) return false;
  if (t.name && !anchored(t.name).test(nameOf(r))) return false;
  if (t.namespace && !anchored(t.namespace).test((r.metadata && r.metadata.namespace) || "")) return false;
  const [group, version] = r.apiVersion.includes("/") ? r.apiVersion.split("/") : ["", r.apiVersion];
  if (t.group !== undefined && !anchored(t.group).test(group)) return false;
  if (t.version && !anchored(t.version).test(version)) return false;
  return true;
}

function pointer(p) {
  if (p === "") return [];
  if (!p.startsWith("/")) throw new RenderError(`JSON pointer ${p} does not start with /`);
  return p.slice(1).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function applyJson6902(doc, ops, where) {
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop();
    let parent = doc;
    for (const p of parts) {
      if (parent === null || typeof parent !== "object" || !(p in parent)) {
        throw new RenderError(`${where}: ${op.op} ${op.path}: no such path`);
      }
      parent = parent[p];
    }
    const isArr = Array.isArray(parent);
    const idx = isArr ? (last === "-" ? parent.length : Number(last)) : last;
    if (isArr && !(Number.isInteger(idx) && idx >= 0)) {
      throw new RenderError(`${where}: ${op.path}: bad array index`);
    }
    const exists = isArr ? idx < parent.length : Object.prototype.hasOwnProperty.call(parent, idx);
    switch (op.op) {
      case "add":
        if (isArr) parent.splice(idx, 0, op.value);
        else parent[idx] = op.value;
        break;
      case "replace":
        if (!exists) throw new RenderError(`${where}: replace ${op.path}: no such path`);
        parent[idx] = op.value;
        break;
      case "remove":
        if (!exists) throw new RenderError(`${where}: remove ${op.path}: no such path`);
        if (isArr) parent.splice(idx, 1);
        else delete parent[idx];
        break;
      case "test":
        if (!exists || JSON.stringify(parent[idx]) !== JSON.stringify(op.value)) {
          throw new RenderError(`${where}: test ${op.path} failed`);
        }
        break;
      default:
        throw new RenderError(`${where}: JSON patch op "${op.op}" is not supported`);
    }
  }
}

function runPatches(k, file, res) {
  for (const p of k.patches || []) {
    for (const key of Object.keys(p)) {
      if (key !== "target" && key !== "patch") {
        throw new RenderError(`${file}: patches: "${key}" is not supported (inline JSON 6902 only)`);
      }
    }
    if (!p.target || typeof p.patch !== "string") {
      throw new RenderError(`${file}: patches: need a target and an inline patch`);
    }
    const ops = parseYamlStream(p.patch, `${file}: patch`);
    if (ops.length !== 1 || !Array.isArray(ops[0])) {
      throw new RenderError(`${file}: patches: only JSON 6902 (a list of operations) is supported`);
    }
    const hit = res.filter((r) => matchesTarget(r, p.target));
    if (!hit.length) throw new RenderError(`${file}: patch target ${JSON.stringify(p.target)} matches nothing`);
    for (const r of hit) applyJson6902(r, ops[0], `${file}: ${r.kind}/${nameOf(r)}`);
  }
}

function runNamespace(k, res) {
  if (!k.namespace) return;
  for (const r of res) {
    r.metadata = r.metadata || {};
    if (r.kind === "Namespace") r.metadata.name = k.namespace;
    else if (!CLUSTER_SCOPED.has(r.kind)) r.metadata.namespace = k.namespace;
  }
}

function runReplicas(k, file, res) {
  for (const rep of k.replicas || []) {
    const hit = res.filter((r) => nameOf(r) === rep.name && r.spec && "replicas" in r.spec);
    if (!hit.length) throw new RenderError(`${file}: replicas: ${rep.name} matches nothing`);
    for (const r of hit) r.spec.replicas = rep.count;
  }
}

function podSpecs(r) {
  const out = [];
  const s = r.spec || {};
  if (r.kind === "Pod") out.push(s);
  if (s.template && s.template.spec) out.push(s.template.spec);
  if (s.jobTemplate && s.jobTemplate.spec && s.jobTemplate.spec.template) {
    out.push(s.jobTemplate.spec.template.spec);
  }
  return out.filter(Boolean);
}

function containersOf(spec) {
  return [...(spec.initContainers || []), ...(spec.containers || [])];
}

function splitImage(image) {
  let name = image;
  let tag = "";
  let digest = "";
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  return { name, tag, digest };
}

function runImages(k, file, res) {
  for (const img of k.images || []) {
    for (const key of Object.keys(img)) {
      if (!["name", "newName", "newTag", "digest"].includes(key)) {
        throw new RenderError(`${file}: images: "${key}" is not supported`);
      }
    }
    for (const r of res) {
      for (const spec of podSpecs(r)) {
        for (const c of containersOf(spec)) {
          const cur = splitImage(c.image || "");
          if (cur.name !== img.name) continue;
          let out = img.newName || cur.name;
          if (img.digest) out += `@${img.digest}`;
          else if (img.newTag !== undefined) out += `:${img.newTag}`;
          else if (cur.digest) out += `@${cur.digest}`;
          else if (cur.tag) out += `:${cur.tag}`;
          c.image = out;
        }
      }
    }
  }
}

function loadResources(dir, k, file) {
  const res = [];
  for (const r of k.resources || []) {
    if (path.isAbsolute(r)) throw new RenderError(`${file}: ${r}: absolute paths are refused (by kustomize too)`);
    const p = path.resolve(dir, r);
    if (existsSync(p) && statSync(p).isDirectory()) {
      res.push(...accumulate(p, "Kustomization"));
    } else {
      const f = insideRoot(dir, r, file);
      res.push(...parseYamlStream(readFileSync(f, "utf8"), f));
    }
  }
  return res;
}

// One kustomization (or component) applied: its resources, then its
// components, then its generators and transformers over all of it, in
// kustomize's order (patches, namespace, replicas, images).
function accumulate(dir, expectKind, res = []) {
  const { file, k } = readKustomization(dir);
  const kind = k.kind || "Kustomization";
  if (kind !== expectKind) throw new RenderError(`${file}: kind ${kind}, expected ${expectKind}`);
  res.push(...loadResources(dir, k, file));
  for (const c of k.components || []) {
    if (path.isAbsolute(c)) throw new RenderError(`${file}: ${c}: absolute paths are refused (by kustomize too)`);
    accumulate(path.resolve(dir, c), "Component", res);
  }
  runGenerators(dir, k, file, res);
  runPatches(k, file, res);
  runNamespace(k, res);
  runReplicas(k, file, res);
  runImages(k, file, res);
  return res;
}

// kustomize's content hash for a generated ConfigMap: sha256 of Go's JSON
// (sorted keys, <>& and U+2028/9 escaped) of {data, kind, name: ""}; the first
// ten hex digits with 0 1 3 a e turned into g h k m t.
export function configMapHash(data) {
  const sorted = {};
  for (const key of Object.keys(data || {}).sort()) sorted[key] = data[key];
  let json = JSON.stringify({ data: sorted, kind: "ConfigMap", name: "" });
  json = json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const hex = createHash("sha256").update(json, "utf8").digest("hex").slice(0, 10);
  return hex.replace(/[013ae]/g, (c) => ({ 0: "g", 1: "h", 3: "k", a: "m", e: "t" })[c]);
}

function applyHashes(res) {
  const renamed = new Map(); // namespace/name -> hashed name
  for (const r of res) {
    if (!r[GENERATED]) continue;
    const name = `${r[GENERATED].name}-${configMapHash(r.data)}`;
    renamed.set(`${r.metadata.namespace || ""}/${r[GENERATED].name}`, name);
    r.metadata.name = name;
  }
  const ref = (ns, obj) => {
    if (obj && obj.name !== undefined) {
      const n = renamed.get(`${ns}/${obj.name}`);
      if (n) obj.name = n;
    }
  };
  for (const r of res) {
    const ns = (r.metadata && r.metadata.namespace) || "";
    for (const spec of podSpecs(r)) {
      for (const v of spec.volumes || []) {
        ref(ns, v.configMap);
        for (const s of (v.projected && v.projected.sources) || []) ref(ns, s.configMap);
      }
      for (const c of containersOf(spec)) {
        for (const e of c.envFrom || []) ref(ns, e.configMapRef);
        for (const e of c.env || []) ref(ns, e.valueFrom && e.valueFrom.configMapKeyRef);
      }
    }
  }
}

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function order(res) {
  const rank = (kind) => {
    const f = ORDER_FIRST.indexOf(kind);
    if (f >= 0) return [0, f];
    const l = ORDER_LAST.indexOf(kind);
    if (l >= 0) return [2, l];
    return [1, 0];
  };
  // Then by group_version_kind ("~G" for the core group), namespace and name.
  const gvk = (r) => {
    const [g, v] = r.apiVersion.includes("/") ? r.apiVersion.split("/") : ["~G", r.apiVersion];
    return `${g}_${v}_${r.kind}`;
  };
  return res
    .map((r, i) => ({ r, i, k: [...rank(r.kind).slice(0, 2), gvk(r)] }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || cmp(a.k[2], b.k[2]) ||
      cmp(a.r.metadata.name, b.r.metadata.name) ||
      cmp(a.r.metadata.namespace || "", b.r.metadata.namespace || "") || a.i - b.i)
    .map((x) => x.r);
}

export function render(dir) {
  const res = accumulate(path.resolve(dir), "Kustomization");
  applyHashes(res);
  const seen = new Set();
  for (const r of res) {
    const id = `${r.apiVersion}/${r.kind}/${r.metadata.namespace || ""}/${r.metadata.name}`;
    if (seen.has(id)) throw new RenderError(`${dir}: ${id} defined twice`);
    seen.add(id);
  }
  return order(res).map((r) => JSON.parse(JSON.stringify(r)));
}

function main(argv) {
  try {
    if (argv[0] === "--from-yaml" && argv.length === 2) {
      const text = readFileSync(argv[1] === "-" ? 0 : argv[1], "utf8");
      process.stdout.write(JSON.stringify(parseYamlStream(text, argv[1])) + "\n");
      return 0;
    }
    const json = argv.includes("--json");
    const dirs = argv.filter((a) => a !== "--json");
    if (dirs.length !== 1 || dirs[0].startsWith("-")) {
      process.stderr.write("usage: node render.mjs DIR [--json] | --from-yaml FILE\n");
      return 2;
    }
    const out = render(dirs[0]);
    if (json) process.stdout.write(JSON.stringify(out) + "\n");
    else process.stdout.write(out.map((r) => YAML.stringify(r, { lineWidth: 0 })).join("---\n"));
    return 0;
  } catch (e) {
    if (e instanceof RenderError || e.code === "ENOENT") {
      process.stderr.write(`render.mjs: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("render.mjs")) {
  process.exitCode = main(process.argv.slice(2));
}
