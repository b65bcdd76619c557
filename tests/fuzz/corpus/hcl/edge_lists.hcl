a = []
b = [1, "two", true, 4.5,]
c = [[1, 2], [], [[3]]]
d = [{ x = 1 }, { y = "z", w = [1] },]
e = [
    # comment
    "x", // comment
    /* comment */ "y"
]
f { g = [ { h { i = [] } } ] }
j = [<<EOF
heredoc
EOF
]
