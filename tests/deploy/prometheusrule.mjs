#!/usr/bin/env node
// Print deploy/k8s/components/prometheusrule/prometheusrule.yaml: the groups
// of deploy/prometheus/tomed-rules.yml (the file promtool tests) wrapped in a
// PrometheusRule. tests/integration/test_deploy.py compares the committed file
// with this output, so the two rule sets cannot drift apart.
//
//   node tests/deploy/prometheusrule.mjs > deploy/k8s/components/prometheusrule/prometheusrule.yaml
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const rules = YAML.parse(readFileSync(path.join(root, "deploy/prometheus/tomed-rules.yml"), "utf8"));

const header = `# The alert and recording rules of deploy/prometheus/tomed-rules.yml as a
# PrometheusRule for the Prometheus Operator (kube-prometheus-stack). The
# groups are a copy of that file's (kustomize cannot embed a file in a field);
# generated, do not edit: after changing the rules,
#   node tests/deploy/prometheusrule.mjs > deploy/k8s/components/prometheusrule/prometheusrule.yaml
# (tests/integration/test_deploy.py fails while they differ).
`;
const obj = {
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: {
    name: "tomed",
    labels: {
      "app.kubernetes.io/name": "tomed",
      // kube-prometheus-stack's Prometheus picks rules by its Helm release
      // label unless prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues
      // is false: the components's kustomization.yaml says how to change it.
      release: "kube-prometheus-stack",
    },
  },
  spec: { groups: rules.groups },
};
process.stdout.write(header + YAML.stringify(obj, { lineWidth: 0 }));
