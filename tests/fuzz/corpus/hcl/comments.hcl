# hash comment
// slash comment
/* block
   comment */ a = 1 /* inline */ b = 2 # trailing
c = { /* in object */ d = 3, e = 4 }
/**/ f = "/* not a comment */"
g = "# not a comment either"
