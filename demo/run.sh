#!/usr/bin/env bash
# make demo: start the ConnectWise simulator, publish the sample usage, show what happened.
set -euo pipefail
cd "$(dirname "$0")"
bin=../.venv/bin
work=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; rm -rf "$work"' EXIT

# A file keyring in the demo's own folder: no desktop keyring needed, nothing left in $HOME.
export PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring
export XDG_DATA_HOME="$work/keyring"
export CWPUBLISH_INITIATED_BY=demo@example.com

"$bin/python" -m cwpublish.simulator serve --data simulator.yaml --port 0 \
  --port-file "$work/port" 2>/dev/null &
sim=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
mkdir -p "$work/usage"
cp usage/acme-sample.csv "$work/usage/"
sed "s/@PORT@/$port/" cwpublish.yaml.in > "$work/cwpublish.yaml"
export CWPUBLISH_CONFIG="$work/cwpublish.yaml"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step "printf '%s' \"\$PASSWORD\" | cwpublish credentials set --partner acme"
printf '%s' "demo-integrator-secret" | "$bin/cwpublish" credentials set --partner acme
step "printf '%s' \"\$PRIVATE_KEY\" | cwpublish credentials set --partner acme-cloud   # REST"
printf '%s' "demo-private-key" | "$bin/cwpublish" credentials set --partner acme-cloud
step "cwpublish check-config --online"
"$bin/cwpublish" check-config --online
step "cwpublish publish --yes"
"$bin/cwpublish" publish --yes
step "cwpublish history"
"$bin/cwpublish" history
step "python -m cwpublish.simulator show   # what ConnectWise now holds (SOAP and REST)"
"$bin/python" -m cwpublish.simulator show --url "http://127.0.0.1:$port"
