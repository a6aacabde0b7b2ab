# Device job (repo root on the GPU machine, data pack in .gpu/). Run 1 of docs/training.md.
# GPU training job (run from repo root on the device). $1 = time limit s, $2 = "--resume" or ""
set -u
T=${1:-480}; R=${2:-}
export PYTHONUNBUFFERED=1
S=.gpu/styles; C="--content-dir .gpu/content --vgg-weights .gpu/vgg/vgg16_imagenet_tvnorm_relu4_3_fp16.pth --device cuda --batch-size 4 --image-size 256 --steps 40000 --checkpoint-every 1000 --sample-every 1000 --time-limit $T $R"
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch,cv2;print(torch.__version__, cv2.__version__)"
python3 -m livestyle train johnson --style-image $S/mosaic.jpg --style-image $S/candy.jpg --style-image $S/starry_night.jpg --style-weight 10 --variant both -o .gpu/runs/ja $C > $OUT/ja.log 2>&1 &
python3 -m livestyle train johnson --style-image $S/the_scream.jpg --style-image $S/udnie_engstrom.jpg --style-image $S/udnie_engstrom.jpg --style-image $S/udnie_engstrom.jpg --name the_scream --name udnie --name udnie_sw4 --name udnie_sw25 --style-weight 10 --style-weight 10 --style-weight 4 --style-weight 25 --variant both -o .gpu/runs/jb $C > $OUT/jb.log 2>&1 &
python3 -m livestyle train adain --style-dir $S --content-dir .gpu/content --vgg-weights .gpu/vgg/vgg16_imagenet_tvnorm_relu4_3_fp16.pth --device cuda --batch-size 8 --image-size 256 --steps 100000 --checkpoint-every 1000 --sample-every 1000 --time-limit $T $R -o .gpu/runs/ad > $OUT/ad.log 2>&1 &
wait
nvidia-smi --query-gpu=memory.used --format=csv
cd .gpu/runs
tar cf $OUT/ja.tar ja/[!t]*.pt ja/history.json $(ls ja/sample_*.jpg | tail -1)
tar cf $OUT/jb.tar jb/[!t]*.pt jb/history.json $(ls jb/sample_*.jpg | tail -1)
tar cf $OUT/ad.tar ad/[!t]*.pt ad/history.json $(ls ad/sample_*.jpg | tail -1)
ls -la ja jb ad | grep -v sample
for f in $OUT/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v '^\s*$' | tail -2; done
