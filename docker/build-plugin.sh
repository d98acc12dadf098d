#!/bin/sh
# Turns the kontena-ipam image into a managed Docker plugin (docker plugin create): the image's
# file system becomes the plugin's rootfs, docker/plugin/config.json its configuration.
#
#   docker/build-plugin.sh [-H DOCKER_HOST] [--config FILE] [--tls-dir DIR] [IMAGE [PLUGIN]]
#
# IMAGE defaults to kontena-ipam:latest, PLUGIN to kontena-ipam (the name --ipam-driver takes).
# --tls-dir DIR adds a read-only bind mount of the host's DIR at /etc/kontena-ipam (its source is
# settable: docker plugin set PLUGIN tls.source=/other/dir) for ETCD_CA_FILE and friends; DIR
# must then exist on every host that enables the plugin.
# The plugin is created disabled; then, for example:
#
#   docker plugin set kontena-ipam ETCD_ENDPOINT=http://10.0.0.1:2379 NODE_ID=$(hostname)
#   docker plugin enable kontena-ipam
set -eu

usage() {
  echo "usage: $0 [-H DOCKER_HOST] [--config FILE] [--tls-dir DIR] [IMAGE [PLUGIN]]" >&2
  exit "${1:-2}"
}

here=$(dirname "$0")
config="$here/plugin/config.json"
tls_dir=
while [ $# -gt 0 ]; do
  case $1 in
    -H | --host)
      [ $# -ge 2 ] || usage
      DOCKER_HOST=$2
      export DOCKER_HOST
      shift 2
      ;;
    --config)
      [ $# -ge 2 ] || usage
      config=$2
      shift 2
      ;;
    --tls-dir)
      [ $# -ge 2 ] || usage
      tls_dir=$2
      shift 2
      ;;
    -h | --help) usage 0 ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -le 2 ] || usage
image=${1:-kontena-ipam:latest}
plugin=${2:-kontena-ipam}

if [ ! -f "$config" ]; then
  echo "build-plugin: $config not found" >&2
  exit 1
fi
if [ -n "$tls_dir" ]; then
  # Spliced into JSON and a sed replacement below: keep to plain path characters.
  case $tls_dir in
    /*) ;;
    *)
      echo "build-plugin: --tls-dir must be an absolute path: $tls_dir" >&2
      exit 2
      ;;
  esac
  if printf '%s' "$tls_dir" | grep -q '[^A-Za-z0-9._/@+-]'; then
    echo "build-plugin: --tls-dir may hold only letters, digits and ._/@+-: $tls_dir" >&2
    exit 2
  fi
  if ! grep -q '^  "mounts": \[\],$' "$config"; then
    echo "build-plugin: --tls-dir needs a config with an empty \"mounts\": [] line: $config" >&2
    exit 1
  fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kontena-ipam-plugin.XXXXXX")
container=
cleanup() {
  if [ -n "$container" ]; then
    docker rm -f "$container" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "$tls_dir" ]; then
  mount='  "mounts": [{"name": "tls", "description": "host directory of the etcd TLS files, read-only at /etc/kontena-ipam", "settable": ["source"], "source": "'$tls_dir'", "destination": "/etc/kontena-ipam", "type": "bind", "options": ["rbind", "ro"]}],'
  sed "s|^  \"mounts\": \[\],\$|$mount|" "$config" >"$work/config.json"
else
  cp "$config" "$work/config.json"
fi

mkdir "$work/rootfs"
container=$(docker create "$image")
docker export "$container" | tar -x -C "$work/rootfs"
docker rm "$container" >/dev/null
container=
docker plugin create "$plugin" "$work" >/dev/null
echo "build-plugin: created the disabled plugin $plugin from $image" >&2
