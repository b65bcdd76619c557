a = <<EOF
plain
  indented
EOF
b = <<-EOT
    one
      two
    EOT
c = <<-X
  uneven
none
  X
d = <<EOF
EOF
e = <<E1
"quotes" \n ${x}
  E1
f = [<<A
in list
A
, "after"]
g = <<EOF
crlf
EOF
h = <<EOF
last
EOF