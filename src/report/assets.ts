// The report page's style sheet and its one script, inlined into every page.
// The script only adds hover details: the page reads the same without it.

/** Light by default, dark where the reader prefers it, light again on paper. */
export const STYLE = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#d5dae0;--plot:#f6f8fa;--grid:#e3e7ec;--accent:#1f6feb;--band:rgba(31,111,235,.18);--mem:#8250df;--memmax:rgba(130,80,223,.45);--power:#bf5700;--powermax:rgba(191,87,0,.4);--temp:#cf222e;--tempmax:rgba(207,34,46,.4);--bar:#2da44e;--gap:rgba(120,120,120,.35);--partial:rgba(120,120,120,.15);--xid:#cf222e;--ecc:#9a6700;--lost:#000;--nodata:#eceff2;
--h0:#440154;--h1:#482878;--h2:#3e4989;--h3:#31688e;--h4:#26828e;--h5:#1f9e89;--h6:#35b779;--h7:#6ece58;--h8:#b5de2b;--h9:#fde725}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#30363d;--plot:#161b22;--grid:#262c36;--accent:#58a6ff;--band:rgba(88,166,255,.22);--mem:#bc8cff;--memmax:rgba(188,140,255,.45);--power:#f0883e;--powermax:rgba(240,136,62,.45);--temp:#ff7b72;--tempmax:rgba(255,123,114,.45);--bar:#3fb950;--gap:rgba(160,160,160,.35);--partial:rgba(160,160,160,.15);--xid:#ff7b72;--ecc:#d29922;--lost:#fff;--nodata:#1c2128}}
@media print{:root{color-scheme:light;--bg:#fff;--fg:#000;--muted:#444;--line:#bbb;--plot:#fff;--grid:#ddd;--nodata:#eee;--lost:#000}nav,.hovertip,.cursor{display:none!important}.box{max-height:none!important;overflow:visible!important}section,figure{break-inside:avoid}section.device{break-before:page}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1400px;padding:1.5rem;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.2rem;margin:2rem 0 .25rem;border-top:1px solid var(--line);padding-top:1rem}h3{font-size:1rem;margin:.25rem 0}
.muted,.ids,.legend,caption{color:var(--muted)}
dl.facts,dl.totals{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}
dl div{display:contents}dt{color:var(--muted)}dd{margin:0;font-variant-numeric:tabular-nums}
dl.totals dd{font-weight:600}
nav{margin:.75rem 0}nav a{margin-right:.75rem}
a{color:var(--accent)}
figure{margin:.75rem 0;display:grid;grid-template-columns:minmax(0,2.2fr) minmax(15rem,1fr);gap:1rem;align-items:start}
figure.owners{grid-template-columns:minmax(0,1.2fr) minmax(15rem,1fr)}
@media (max-width:900px){figure,figure.owners{grid-template-columns:1fr}}
.box{max-height:17rem;overflow:auto;border:1px solid var(--line);border-radius:4px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;width:100%}
th,td{padding:.15rem .45rem;text-align:right;white-space:nowrap;border-bottom:1px solid var(--line)}
th:first-child,td:first-child{text-align:left}tr.mig td:first-child{padding-left:1.4rem}tr.open{font-style:italic}table.owners td:first-child{max-width:9rem;overflow:hidden;text-overflow:ellipsis}
thead th{position:sticky;top:0;background:var(--bg);font-weight:600}
caption{text-align:left;padding:.2rem .45rem;caption-side:top}
table.wide td,table.wide th{text-align:left;white-space:normal}table.wide td:first-child{min-width:8.5rem}
svg{width:100%;height:auto;display:block;font-size:13px}
svg text{fill:var(--muted)}
.yl{text-anchor:end}.yu{font-size:11px}.xl{text-anchor:middle}
.plot{fill:var(--plot)}.plot.ok{fill:var(--bar);opacity:.35}
.grid,.day{stroke:var(--grid);fill:none;stroke-width:1}
.gap{fill:var(--gap)}.partial{fill:var(--partial)}
.util,.mem,.memmax,.power,.powermax,.temp,.tempmax{fill:none;stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round;vector-effect:non-scaling-stroke}
.util{stroke:var(--accent)}.band{fill:var(--band)}
.mem{stroke:var(--mem)}.memmax{stroke:var(--memmax);stroke-width:1}
.power{stroke:var(--power)}.powermax{stroke:var(--powermax);stroke-width:1}
.temp{stroke:var(--temp)}.tempmax{stroke:var(--tempmax);stroke-width:1}
.bar{fill:var(--bar)}.ownerhours{fill:var(--accent)}
.dot{stroke:none}.util.dot{fill:var(--accent)}.mem.dot{fill:var(--mem)}.memmax.dot{fill:var(--memmax)}.power.dot{fill:var(--power)}.powermax.dot{fill:var(--powermax)}.temp.dot{fill:var(--temp)}.tempmax.dot{fill:var(--tempmax)}
.mark path{stroke-width:1.5;fill:none}.mark .tip{stroke:none}
.mark.xid path{stroke:var(--xid)}.mark.xid .tip{fill:var(--xid)}
.mark.ecc path{stroke:var(--ecc)}.mark.ecc .tip{fill:var(--ecc)}
.mark.gpu_lost path,.mark.gpu_trouble path,.mark.driver path{stroke:var(--lost)}.mark.gpu_lost .tip,.mark.gpu_trouble .tip,.mark.driver .tip{fill:var(--lost)}
.mark.gpu_recovered path{stroke:var(--bar)}.mark.gpu_recovered .tip{fill:var(--bar)}
.nodata{fill:var(--nodata);background:var(--nodata)}
.h0{fill:var(--h0);background:var(--h0)}.h1{fill:var(--h1);background:var(--h1)}.h2{fill:var(--h2);background:var(--h2)}.h3{fill:var(--h3);background:var(--h3)}.h4{fill:var(--h4);background:var(--h4)}.h5{fill:var(--h5);background:var(--h5)}.h6{fill:var(--h6);background:var(--h6)}.h7{fill:var(--h7);background:var(--h7)}.h8{fill:var(--h8);background:var(--h8)}.h9{fill:var(--h9);background:var(--h9)}
.sw{display:inline-block;width:.9em;height:.9em;vertical-align:-.1em;border-radius:2px}
.legend .util{background:var(--accent)}.legend .band{background:var(--band)}.legend .mem{background:var(--mem)}.legend .memmax{background:var(--memmax)}.legend .power{background:var(--power)}.legend .powermax{background:var(--powermax)}.legend .temp{background:var(--temp)}.legend .tempmax{background:var(--tempmax)}.legend .bar{background:var(--bar)}.legend .gap{background:var(--gap)}.legend .partial{background:var(--partial)}.legend .xid{background:var(--xid)}.legend .ecc{background:var(--ecc)}.legend .lost{background:var(--lost)}
.cursor{stroke:var(--fg);stroke-width:1;opacity:0}.cell{fill:none;stroke:var(--fg);stroke-width:1.5;opacity:0}
svg.hovered .cursor,svg.hovered .cell{opacity:.6}
.hovertip{position:fixed;z-index:9;pointer-events:none;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:4px;padding:.35rem .5rem;font-size:12px;white-space:pre;box-shadow:0 2px 8px rgba(0,0,0,.25)}
details{margin:.5rem 0}summary{cursor:pointer;color:var(--accent)}
.empty{padding:1rem;border:1px dashed var(--line);border-radius:4px;color:var(--muted)}
`;

/**
 * Hover details: over a time chart, the hovered window's row of the device's
 * hourly table (the columns the chart names in data-hover); over the heat map,
 * that day and hour's cell. Reads the tables the page already holds.
 */
export const SCRIPT = `
(function(){
var g=document.body.dataset.geometry.split(',').map(Number),L=g[0],T=g[1],W=g[2],HH=g[3];
var from=+document.body.dataset.from,to=+document.body.dataset.to;
var tip=document.createElement('div');tip.className='hovertip';tip.hidden=true;document.body.appendChild(tip);
function at(svg,e){var p=svg.createSVGPoint();p.x=e.clientX;p.y=e.clientY;return p.matrixTransform(svg.getScreenCTM().inverse());}
function show(e,text){tip.textContent=text;tip.hidden=false;var x=e.clientX+14,y=e.clientY+14;if(x+tip.offsetWidth>innerWidth)x=e.clientX-14-tip.offsetWidth;if(y+tip.offsetHeight>innerHeight)y=e.clientY-14-tip.offsetHeight;tip.style.left=x+'px';tip.style.top=y+'px';}
function hide(svg){tip.hidden=true;svg.classList.remove('hovered');}
document.querySelectorAll('section.device').forEach(function(sec){
var table=sec.querySelector('table.hourly');
if(table){
var body=table.tBodies[0],starts=body.dataset.t?body.dataset.t.split(',').map(Number):[],ends=body.dataset.p?body.dataset.p.split(',').map(Number):[];
var heads=[].map.call(table.tHead.rows[0].cells,function(c){return c.textContent;});
sec.querySelectorAll('svg.chart').forEach(function(svg){
var cols=svg.dataset.hover.split(',').map(Number),cursor=svg.querySelector('.cursor');
svg.addEventListener('mousemove',function(e){
var q=at(svg,e),m=(from+(q.x-L)/W*(to-from)-from)/60,lo=0,hi=starts.length-1,i=-1;
while(lo<=hi){var mid=(lo+hi)>>1;if(starts[mid]<=m){i=mid;lo=mid+1;}else hi=mid-1;}
if(i<0||m>=starts[i]+ends[i]||q.x<L||q.x>L+W){hide(svg);return;}
var row=body.rows[i];svg.classList.add('hovered');cursor.setAttribute('transform','translate('+q.x.toFixed(1)+',0)');
show(e,[row.cells[0].textContent].concat(cols.map(function(c){return heads[c]+': '+row.cells[c].textContent;})).join('\\n'));
});
svg.addEventListener('mouseleave',function(){hide(svg);});
});}
var heat=sec.querySelector('svg.heat'),matrix=sec.querySelector('table.heat');
if(heat&&matrix){var days=+heat.dataset.days,cell=heat.querySelector('.cell'),cw=W/days;
heat.addEventListener('mousemove',function(e){
var q=at(heat,e),d=Math.floor((q.x-L)/cw),h=Math.floor((q.y-T)/HH);
if(d<0||d>=days||h<0||h>23){hide(heat);return;}
var row=matrix.tBodies[0].rows[d];heat.classList.add('hovered');
cell.setAttribute('x',(L+d*cw).toFixed(1));cell.setAttribute('y',T+h*HH);cell.setAttribute('width',cw.toFixed(1));
show(e,row.cells[0].textContent+' '+(h<10?'0':'')+h+':00\\nutilization: '+row.cells[h+1].textContent+' %');
});
heat.addEventListener('mouseleave',function(){hide(heat);});}
});
})();
`;
