a = <<EOF
never closed
