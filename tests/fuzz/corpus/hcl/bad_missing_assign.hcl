server {
  log_level DEBUG
}
