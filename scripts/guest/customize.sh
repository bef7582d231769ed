#!/bin/sh
# mmdebstrap customize hook of build-image.sh: $1 is the guest's root folder.
set -eu
root="$1"
# cloud-init: only the NoCloud seed disk (no metadata-server probing that would wait for time-outs).
cat >"$root/etc/cloud/cloud.cfg.d/90-stratus.cfg" <<'CFG'
datasource_list: [NoCloud, None]
datasource:
  NoCloud:
    fs_label: cidata
CFG
# Per-VM identity on first boot: an empty machine-id, no sshd host keys in the image.
: >"$root/etc/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*
# The root filesystem by label (the disk is vda with direct kernel boot).
echo 'LABEL=root / ext4 defaults,discard 0 1' >"$root/etc/fstab"
# A login prompt on the serial console, the one the Stratus console attaches to.
mkdir -p "$root/etc/systemd/system/getty.target.wants"
ln -sf /lib/systemd/system/serial-getty@.service "$root/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
# Smaller image.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
