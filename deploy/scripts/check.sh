#!/usr/bin/env bash
# Checks what operators deploy, with the tools they use:
#   - the Helm chart: `helm lint --strict`, and `helm template` piped into `kubeconform -strict`
#     for every value set in deploy/helm/mnemo/ci/ and two Kubernetes versions;
#   - that the chart refuses a render without Redis, Neo4j or secrets, with its own message;
#   - the Prometheus alert rules: `promtool check rules` and `promtool test rules`.
# Run by .ci/run; locally: npm run check:deploy
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source deploy/scripts/tools.sh

chart=deploy/helm/mnemo
schemas="$K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"

# The schemas must catch a mistake: a container field Kubernetes does not know.
if "$KUBECONFORM" -strict -kubernetes-version 1.37.0 -schema-location "$schemas" >/dev/null 2>&1 <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: { name: probe }
spec:
  selector: { matchLabels: { app: probe } }
  template:
    metadata: { labels: { app: probe } }
    spec:
      containers: [{ name: probe, image: probe, livenessProbes: {} }]
YAML
then
  echo "deploy-check: kubeconform accepted a Deployment with an unknown field: the schemas are not strict" >&2
  exit 1
fi

for values in "$chart"/ci/*-values.yaml; do
  echo "deploy-check: helm lint $values"
  "$HELM" lint --strict "$chart" -f "$values"
  for version in $KUBERNETES_VERSIONS; do
    echo "deploy-check: helm template $values | kubeconform (Kubernetes $version)"
    "$HELM" template mnemo "$chart" -f "$values" --kube-version "$version" |
      "$KUBECONFORM" -strict -summary -kubernetes-version "$version" \
        -schema-location "$schemas"
  done
done

# A render missing what Mnemo cannot run without must fail, saying what to set.
expect_refusal() {
  local expected="$1"
  shift
  local output
  if output=$("$HELM" template mnemo "$chart" --kube-version 1.37.0 "$@" 2>&1); then
    echo "deploy-check: helm template $* rendered, but should have refused: $expected" >&2
    exit 1
  fi
  if ! grep -qF "$expected" <<<"$output"; then
    echo "deploy-check: helm template $* failed without saying \"$expected\":" >&2
    echo "$output" >&2
    exit 1
  fi
}
expect_refusal "set neo4j.uri" --set redis.url=redis://r:6379
expect_refusal "need Redis" --set neo4j.uri=bolt://n:7687
expect_refusal "set secrets.internalSecret" --set redis.url=redis://r:6379 --set neo4j.uri=bolt://n:7687 \
  --set secrets.authJwtSecret=0123456789abcdef0123456789abcdef
expect_refusal "set only one of" --set redis.url=redis://r:6379 --set 'redis.cluster.nodes={a:6379}' \
  --set neo4j.uri=bolt://n:7687
# values.schema.json: a misspelt key or a URL of the wrong kind is refused, not ignored.
expect_refusal "additional properties 'urll' not allowed" --set redis.urll=redis://r:6379 \
  --set neo4j.uri=bolt://n:7687
expect_refusal "does not match pattern" --set redis.url=redis://r:6379 --set neo4j.uri=http://n:7474
echo "deploy-check: the chart refuses incomplete and misspelt values"

echo "deploy-check: promtool check rules"
"$PROMTOOL" check rules deploy/prometheus/alerts.yml
echo "deploy-check: promtool test rules"
"$PROMTOOL" test rules deploy/prometheus/alerts.test.yml
echo "deploy-check: all deploy checks passed"
