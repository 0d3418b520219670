moved {
  from = helm_release.web
  to   = clusterkit_managed_app.web
}
