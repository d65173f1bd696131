#!/bin/sh
# /usr/bin/ollama-proxy from the Debian package: the CLI on the Node runtime the package
# carries (its SQLite addon is built for that runtime's ABI, not the distribution's node),
# reading the packaged config's production section unless told otherwise.
: "${OLLAMA_PROXY_CONFIG:=/etc/ollama-proxy/config.yml}"
: "${OLLAMA_PROXY_ENV:=production}"
export OLLAMA_PROXY_CONFIG OLLAMA_PROXY_ENV
exec /usr/lib/ollama-proxy/node/bin/node /usr/lib/ollama-proxy/bin/ollama-proxy "$@"
