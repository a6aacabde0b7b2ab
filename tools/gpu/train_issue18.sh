# Device job (one call): the default styles at the sizes users run, with the temporal loss.
# Run from the repo root with the data pack in .gpu/ (tools/gpu/make_pack.py) and
# `carry: [".gpu"]`; results come back through $OUT (nets, histories, last samples, logs).
#
#   udnie (full net, warm start from exported/): style weight 3 at temporal weight 0, 5 and 20
#   side by side, the same steps and batches otherwise, so the sweep says what steadiness costs
#   in style (more temporal weight: less warping, some style lost; docs/training.md), plus style
#   weight 1.5 without it (the trade-off's other side);
#   mosaic, candy, starry_night, the_scream (full nets) with temporal weight 5 in one process.
#   All: 256 px crops of 35-100% of a photo scaled up (objects as large as 512-1080 px frames
#   show them), content at relu3_3 (what the quality tool scores), weights averaged.
#
#   bash tools/gpu/train_issue18.sh [SECONDS]        # on the device, e.g. 420
#   DEVICE=cpu SIZE=64 STEPS=2 OUT=/tmp/o bash tools/gpu/train_issue18.sh 60   # CPU self-test
set -u
T=${1:-420}
DEVICE=${DEVICE:-cuda}; SIZE=${SIZE:-256}; STEPS=${STEPS:-40000}; BATCH=${BATCH:-8}
RUNS=${RUNS:-/tmp/runs18}
export PYTHONUNBUFFERED=1
S=.gpu/styles
C="--content-dir .gpu/content --vgg-weights .gpu/vgg/vgg16_imagenet_tvnorm_relu4_3_fp16.pth --device $DEVICE
   --image-size $SIZE --crop-min 0.35 --content-layer relu3_3 --batch-size $BATCH --steps $STEPS
   --init-from exported --lr 5e-4 --warmup 200 --ema 0.99 --tv-weight 0.3 --temporal-mode warp
   --checkpoint-every 1000 --sample-every 1000 --time-limit $T"
mkdir -p "$OUT" "$RUNS"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv
for SW_TW in 3:0 3:5 3:20 1.5:0; do
  SW=${SW_TW%:*}; W=${SW_TW#*:}; R=udnie_sw${SW}_tw$W
  python3 -m livestyle train johnson --style-image $S/udnie_engstrom.jpg --name udnie --style-weight $SW \
      --temporal-weight $W -o $RUNS/$R $C > "$OUT/$R.log" 2>&1 &
done
python3 -m livestyle train johnson --style-image $S/mosaic.jpg --style-image $S/candy.jpg \
    --style-image $S/starry_night.jpg --style-image $S/the_scream.jpg \
    --name mosaic --name candy --name starry_night --name the_scream --style-weight 1.5 \
    --temporal-weight 5 -o $RUNS/rest_tw5 $C > "$OUT/rest_tw5.log" 2>&1 &
wait
# Nets, histories and the last sample of each run; the resume state stays behind (too large).
(cd "$RUNS" && tar cf "$OUT/udnie.tar" udnie_sw*/udnie.pt udnie_sw*/history.json \
     $(for d in udnie_sw*; do ls $d/sample_*.jpg 2>/dev/null | tail -1; done))
(cd "$RUNS" && tar cf "$OUT/rest.tar" rest_tw5/{mosaic,candy,starry_night,the_scream}.pt rest_tw5/history.json $(ls rest_tw5/sample_*.jpg 2>/dev/null | tail -1))
ls -la "$OUT"
for f in "$OUT"/*.log; do echo "== $f"; tr '\r' '\n' < "$f" | grep -v '^\s*$' | tail -2; done
