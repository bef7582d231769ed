# The real host and VM of `npm run up`, sourced by scripts/up.sh (which defines REPO, STATE, CONFIG,
# step, start_component and load_role). Where the machine can run qemu (root, qemu, libvirtd, a
# probe boot: scripts/guest/accel.sh picks KVM when it really works, else TCG), qemu_host_up starts a
# session libvirtd as user nobody (scripts/session-libvirtd.sh) and a real stratus-agent on it, as
# Host local-qemu (label and taint stratuslab.eu/hypervisor=qemu: only VMs that ask go there);
# qemu_vm_up builds or reuses the Debian image, makes ~/.ssh/id_ed25519 if there is none, applies
# the VM of examples/quickstart/ with that key and waits until the guest answers SSH.
# Elsewhere it says why in one line and the cloud keeps its hollow hosts. Idempotent.
#
# - STRATUS_QEMU (default auto): 0 = hollow hosts only, no probe
# - STRATUS_ACCEL (kvm|qemu): skip the probe (scripts/guest/accel.sh)
# - STRATUS_QEMU_WAIT_SEC (default 300): how long to wait for the guest's SSH

QEMU_HOST=local-qemu
QEMU_VM=debian-1
QEMU_IMAGE=debian-12-local
QEMU_TEMPLATE="$REPO/examples/quickstart/debian-vm.yaml.template"
QEMU_KEY="$HOME/.ssh/id_ed25519"
QEMU_WHY=''     # why there is no real host; empty when there is one
QEMU_FAILED=''  # what went wrong with the real VM, if anything
QEMU_ACCEL=''
stratus_cli() { node "$REPO/bin/stratus.js" "$@"; }

# The folder of the session libvirtd and of the real agent's state: under .stratus when user nobody
# can reach it, else under /var/lib/stratus (a checkout in /root, say).
qemu_dir() {
  if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$STATE" 2>/dev/null; then
    echo "$STATE/qemu"
  else
    echo "/var/lib/stratus/up-$(printf '%s' "$STATE" | sha256sum | cut -c1-8)"
  fi
}

# Why this machine cannot run the real host (one line), or nothing.
qemu_missing() {
  [[ "${STRATUS_QEMU:-auto}" == 0 ]] && { echo "STRATUS_QEMU=0"; return; }
  [[ $(id -u) -eq 0 ]] || { echo "not root (the session libvirtd runs as user nobody through setpriv)"; return; }
  local cmd
  for cmd in qemu-system-x86_64 libvirtd setpriv xorriso ssh ssh-keygen; do
    command -v "$cmd" >/dev/null || { echo "$cmd is not installed (scripts/apt-packages.txt)"; return; }
  done
}

qemu_host_up() {
  step "a real host: qemu under a session libvirtd"
  QEMU_WHY="$(qemu_missing)"
  if [[ -z "$QEMU_WHY" ]]; then
    local err
    err="$(mktemp)"
    if QEMU_ACCEL="$(bash "$REPO/scripts/guest/accel.sh" "$STATE" 2>"$err")"; then
      if [[ "$QEMU_ACCEL" == kvm ]]; then echo "guests run with KVM" >&2
      else echo "guests run with TCG, qemu's emulator ($(tail -n1 "$err" | sed 's/^accel: //'))" >&2; fi
    else
      QEMU_WHY="qemu cannot boot a guest here: $(tail -n1 "$err" | sed 's/^accel: //')"
    fi
    rm -f "$err"
  fi
  if [[ -n "$QEMU_WHY" ]]; then
    echo "no real host: $QEMU_WHY; the hollow hosts only" >&2
    return 0
  fi
  QEMU_DIR="$(qemu_dir)"
  # The taint first, so that no other VM lands on the host in the moment after it registers.
  stratus_cli apply -f - >&2 <<YAML
apiVersion: stratuslab.eu/v1alpha1
kind: Host
metadata:
  name: $QEMU_HOST
spec:
  taints: [{key: stratuslab.eu/hypervisor, value: qemu, effect: NoSchedule}]
YAML
  ( umask 022; start_component libvirtd bash "$REPO/scripts/session-libvirtd.sh" "$QEMU_DIR" )
  local uri sock i
  uri="$(bash "$REPO/scripts/session-libvirtd.sh" --uri "$QEMU_DIR")"
  sock="${uri#*socket=}"
  for i in $(seq 1 100); do [[ -S "$sock" ]] && break; sleep 0.2; done
  if [[ ! -S "$sock" ]]; then
    QEMU_WHY="the session libvirtd did not start (see $STATE/logs/libvirtd.log)"
    echo "no real host: $QEMU_WHY" >&2
    return 0
  fi
  # Its forwards to the guests' SSH port start at 22600, apart from those of the test suite's agents (22000-).
  ( umask 022; load_role stratus_agents
    STRATUS_AGENT_FORWARD_PORTS="${STRATUS_AGENT_FORWARD_PORTS:-22600-22999}" STRATUS_STATE_DIR="$STATE" start_component agent-qemu node "$REPO/dist/agents/main.js" --host "$QEMU_HOST" --libvirt-uri "$uri" \
      --state-dir "$QEMU_DIR/state" --virt-type "$QEMU_ACCEL" --labels stratuslab.eu/hypervisor=qemu )
}

# Makes ~/.ssh/id_ed25519 when there is none (never overwrites); prints the public key.
qemu_ssh_key() {
  if [[ ! -f "$QEMU_KEY" ]]; then
    mkdir -p "$(dirname "$QEMU_KEY")" && chmod 700 "$(dirname "$QEMU_KEY")"
    ssh-keygen -q -t ed25519 -N '' -C "$(id -un)@$(hostname) (stratus quick start)" -f "$QEMU_KEY" </dev/null >&2 || return 1
    echo "made an SSH key pair: $QEMU_KEY (no passphrase)" >&2
  elif [[ ! -f "$QEMU_KEY.pub" ]]; then
    ssh-keygen -y -f "$QEMU_KEY" </dev/null >"$QEMU_KEY.pub.tmp" 2>/dev/null && mv "$QEMU_KEY.pub.tmp" "$QEMU_KEY.pub" \
      || { rm -f "$QEMU_KEY.pub.tmp"; echo "$QEMU_KEY has no .pub beside it: make one with ssh-keygen -y -f $QEMU_KEY > $QEMU_KEY.pub" >&2; return 1; }
  fi
  cat "$QEMU_KEY.pub"
}

# The VM manifest: examples/quickstart/debian-vm.yaml.template with the public key KEY and the
# image, its comments kept.
qemu_vm_manifest() {
  (cd "$REPO" && node -e '
    const fs = require("node:fs"); const YAML = require("yaml");
    const [template, key, image] = process.argv.slice(1);
    const doc = YAML.parseDocument(fs.readFileSync(template, "utf8"));
    doc.setIn(["spec", "disks", 0, "image"], image);
    doc.setIn(["spec", "cloudInit", "sshAuthorizedKeys"], doc.createNode([key]));
    process.stdout.write("# written by npm run up from examples/quickstart/debian-vm.yaml.template\n" + doc.toString());
  ' "$QEMU_TEMPLATE" "$1" "$QEMU_IMAGE")
}

qemu_vm_up() {
  [[ -z "$QEMU_WHY" ]] || return 0
  step "the Debian image (scripts/guest/build-image.sh: built once per machine, about a minute)"
  local folder key out="$STATE/quickstart"
  folder="$(bash "$REPO/scripts/guest/build-image.sh")" || { QEMU_FAILED="the image build failed (bash scripts/guest/build-image.sh)"; return 1; }
  step "your SSH key and the VM $QEMU_VM"
  key="$(qemu_ssh_key)" || { QEMU_FAILED="no SSH public key"; return 1; }
  mkdir -p "$out"
  node "$REPO/scripts/guest/image-manifest.js" "$folder" --name "$QEMU_IMAGE" --namespace demo >"$out/image.yaml" \
    || { QEMU_FAILED="no Image manifest for $folder"; return 1; }
  qemu_vm_manifest "$key" >"$out/vm.yaml" || { QEMU_FAILED="no VM manifest from $QEMU_TEMPLATE"; return 1; }
  stratus_cli apply -f "$out/image.yaml" -f "$out/vm.yaml" >&2 || { QEMU_FAILED="applying $out/vm.yaml failed"; return 1; }
  qemu_wait_ssh
}

# Polls `stratus ssh VM -- true` (BatchMode: no prompt) until a login works, printing each new state.
qemu_wait_ssh() {
  local limit="${STRATUS_QEMU_WAIT_SEC:-300}" start=$SECONDS said='' state out last_print=$SECONDS denied=''
  printf 'waiting until %s answers SSH (%s s at most; under TCG a first boot takes a minute or so)\n' "$QEMU_VM" "$limit" >&2
  while :; do
    if out="$(stratus_cli ssh "$QEMU_VM" -n demo --ssh-option BatchMode=yes --ssh-option ConnectTimeout=5 --ssh-option LogLevel=ERROR -- true 2>&1 </dev/null)"; then
      printf '  %3d s: %s answers SSH\n' $((SECONDS - start)) "$QEMU_VM" >&2
      return 0
    fi
    out="$(printf '%s' "$out" | tail -n1)"
    case "$out" in
      *"is not running"*) state="phase $(sed -n 's/.*(phase \([A-Za-z]*\)).*/\1/p' <<<"$out")" ;;
      *"no address yet"*) state="running; waiting for the guest to report its address" ;;
      *"Permission denied"*)
        state="sshd answers but does not take the key yet (cloud-init installs it)"
        denied="${denied:-$SECONDS}"
        if (( SECONDS - denied >= 60 )); then
          QEMU_FAILED="sshd in $QEMU_VM refuses $QEMU_KEY (a key with a passphrase needs ssh-agent: ssh-add $QEMU_KEY; a key changed since the VM was made reaches it on a new VM)"
          return 1
        fi ;;
      *"REMOTE HOST IDENTIFICATION"*|*"Host key verification failed"*)
        QEMU_FAILED="the host key of $QEMU_VM is not the one known: ssh-keygen -R stratus-$(stratus_cli get vm "$QEMU_VM" -n demo -o 'jsonpath={.metadata.uid}') -f $(dirname "$CONFIG")/known_hosts"
        return 1 ;;
      *) state="booting: sshd does not answer yet" ;;
    esac
    if [[ "$state" != "$said" || $((SECONDS - last_print)) -ge 30 ]]; then
      printf '  %3d s: %s\n' $((SECONDS - start)) "$state" >&2
      said="$state"; last_print=$SECONDS
    fi
    if (( SECONDS - start >= limit )); then
      QEMU_FAILED="$QEMU_VM did not answer SSH in $limit s (last: $state; $out). See: npx stratus describe vm $QEMU_VM, $STATE/logs/agent-qemu.log"
      return 1
    fi
    sleep 2
  done
}

# What the closing message says about the real VM.
qemu_summary() {
  if [[ -n "$QEMU_WHY" ]]; then
    printf 'No real VM: %s.\n' "$QEMU_WHY"
  elif [[ -n "$QEMU_FAILED" ]]; then
    printf 'The real VM is not usable: %s\n' "$QEMU_FAILED"
  else
    printf 'A real VM (Debian 12, qemu %s) runs on host %s. Open a shell in it:\n  npx stratus ssh %s\n' \
      "$([[ "$QEMU_ACCEL" == kvm ]] && echo with KVM || echo with TCG)" "$QEMU_HOST" "$QEMU_VM"
  fi
}
