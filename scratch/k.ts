import { pixelRings, coverageFractions } from '../server/raster/coverage-fraction.ts'
const sq = (pts: number[]) => new Float64Array(pts)
const test = (polys: Float64Array[][], r0: number, r1: number, c0: number, c1: number) => {
  const out = new Float64Array((r1-r0)*(c1-c0)); const sc = new Float64Array((r1-r0)*(c1-c0+1))
  coverageFractions(pixelRings(polys), r0, r1, c0, c1, out, sc)
  const rows = []; for (let r=0;r<r1-r0;r++) rows.push(Array.from(out.subarray(r*(c1-c0),(r+1)*(c1-c0))).map(v=>v.toFixed(3)).join(' '))
  console.log(rows.join('\n')); console.log('sum', out.reduce((a,b)=>a+b,0)); console.log()
}
test([[sq([0.5,0.5, 2.5,0.5, 2.5,1.5, 0.5,1.5])]], 0, 3, 0, 3)
test([[sq([0.5,0.5, 0.5,1.5, 2.5,1.5, 2.5,0.5, 0.5,0.5])]], 0, 3, 0, 3)
// triangle
test([[sq([0,0, 3,0, 0,3])]], 0, 3, 0, 3)
// with hole
test([[sq([0,0, 4,0, 4,4, 0,4]), sq([1,1, 1,3, 3,3, 3,1])]], 0, 4, 0, 4)
// window partial: big square -10..10 window 0..2
test([[sq([-10,-10, 10,-10, 10,10, -10,10])]], 0, 2, 0, 2)
test([[sq([-10,0.5, 10,0.5, 10,1.5, -10,1.5])]], 0, 2, 0, 2)
