# <namespace>/<name>: the release namespace and the release name.
# How to reach the cluster cannot be read from it: the first apply after the import takes
# cluster_connection (and the chart and values) from the configuration and runs an upgrade
# pod, which converges the existing release (helm upgrade --install is idempotent).
terraform import clusterkit_managed_app.ingress 'ingress-nginx/ingress-nginx'
