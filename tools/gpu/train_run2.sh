# Device job: run 2 of docs/training.md (warm start from .gpu/init = run-1 checkpoints).
set -u
T=${1:-470}
export PYTHONUNBUFFERED=1
S=.gpu/styles; C="--content-dir .gpu/content --vgg-weights .gpu/vgg/vgg16_imagenet_tvnorm_relu4_3_fp16.pth --device cuda --image-size 256 --checkpoint-every 500 --sample-every 500 --time-limit $T --init-from .gpu/init"
python3 -m livestyle train johnson --style-image $S/mosaic.jpg --style-image $S/candy.jpg --style-image $S/starry_night.jpg --style-image $S/the_scream.jpg --style-image $S/udnie_engstrom.jpg --style-image $S/udnie_engstrom.jpg --style-image $S/udnie_engstrom.jpg --name mosaic --name candy --name starry_night --name the_scream --name udnie --name udnie_sw0.7 --name udnie_sw3 --style-weight 1.5 --style-weight 1.5 --style-weight 1.5 --style-weight 1.5 --style-weight 1.5 --style-weight 0.7 --style-weight 3 --batch-size 4 --steps 40000 -o /tmp/runs/jc $C > $OUT/jc.log 2>&1 &
python3 -m livestyle train adain --style-dir $S --batch-size 8 --steps 100000 -o /tmp/runs/ad2 $C > $OUT/ad2.log 2>&1 &
wait
cd /tmp/runs
tar cf $OUT/jc1.tar jc/{mosaic,candy,starry_night,the_scream}.pt jc/history.json $(ls jc/sample_*.jpg | tail -1)
tar cf $OUT/jc2.tar jc/udnie*.pt
tar cf $OUT/ad2.tar ad2/adain_decoder.pt ad2/history.json $(ls ad2/sample_*.jpg | tail -1)
for f in $OUT/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v '^\s*$' | grep -v '%|' | tail -3; tr '\r' '\n' < $f | grep '%|' | tail -1; done
