server {
  a = "x
y"
}
