r('x.js')
