#!/bin/sh
# cert-manager pre-uninstall step: removes the ClusterIssuer release the install step made
# (helm's --ignore-not-found covers a configuration that never had one).
helm uninstall "$RELEASE_NAME-cluster-issuer" --namespace "$RELEASE_NAMESPACE" --ignore-not-found --wait
