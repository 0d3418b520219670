# <namespace>/<name>, the release namespace and the release name, optionally followed by
# @<host>, the cluster's API server URL (kept in the resource identity).
# How to reach the cluster cannot be read from it: the first plan after the import reads
# helm's release record through the configuration's cluster_connection. A release that runs
# the configured chart, version and values is adopted as it is (the apply runs no pod);
# otherwise the apply upgrades it to the configuration.
terraform import clusterkit_managed_app.ingress 'ingress-nginx/ingress-nginx'
