server {
  bind_port = 8081
  /* never closed
