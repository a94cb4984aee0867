# Throughput per workload and storage (bars) against the pgbench TPC-B baseline and the 10x target (lines).
# bench/run.sh calls: gnuplot -e "datafile='latest.dat'; outfile='latest.png'; pgbench=1800; subtitle='…'" bench/plot.gp
set terminal pngcairo size 1200,650 font "sans,11" noenhanced
set output outfile
set title sprintf("Blnk-compatible server: acknowledged transfers/s per workload (%s)", subtitle)
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "transfers per second (durable, 201)"
set xlabel "workload (W1: 1 client; W4: bulk lines/s; W7: hold+commit pairs/s; W5: writes at half of W2 with 5k reads/s; W6: queued, applied/s)"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid ytics
set key top left
set xtics nomirror
set ytics format "%.0f"
plot for [col=2:*] datafile using col:xtic(1) title columnheader, \
     pgbench with lines lw 2 dt 2 lc rgb "#333333" title sprintf("pgbench TPC-B: %.0f tps", pgbench), \
     10 * pgbench with lines lw 2 dt 2 lc rgb "#cc0000" title sprintf("W2 target, 10x pgbench: %.0f/s", 10 * pgbench)
