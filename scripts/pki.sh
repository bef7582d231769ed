#!/usr/bin/env bash
# A local certificate authority and a server certificate for 127.0.0.1/localhost (kept if present).
set -euo pipefail
DIR="$1"
mkdir -p "$DIR"
cd "$DIR"
if [[ -f ca.pem && -f server.pem && -f server-key.pem ]]; then
  echo "certificates exist in $DIR" >&2
  exit 0
fi
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=stratus-local-ca" \
  -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=stratus-api" -keyout server-key.pem -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext
chmod 600 ca-key.pem server-key.pem
echo "created a local CA and server certificate in $DIR" >&2
