# <service_account_namespace>/<service_account_name>@<host>
# The token and CA cannot be read from the cluster: the first apply after the import writes
# them from the configuration and adopts the existing namespaces.
terraform import clusterkit_cluster_integration.this 'kube-system/clusterkit@https://k8s.example.com:6443'
