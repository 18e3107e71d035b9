#!/usr/bin/python3
"""PyTorch reference numbers for `npm run bench`, measured on this machine (not a project dependency).

Needs PyTorch (Debian: python3-torch, for /usr/bin/python3) and a checkout of the official RLA-Net code (its `models/` package):

    /usr/bin/python3 bench/pytorch-reference.py --official /path/to/RLA-Net [--threads 2] [--seconds 20] [--case NAME]
        [--keep-freed-memory]

Prints one JSON object: {"torch": version, "threads": n, "cases": [{"case", "engine": "pytorch", "imgPerSec", "runs",
"peakRssMb"}]}
with the case names of the bench, so the ratios can be taken from runs made in the same minutes: absolute figures
on a shared machine drift by tens of percent over an hour.

--keep-freed-memory reruns the script with glibc told to keep freed memory instead of unmapping it. By default
glibc serves PyTorch's large activations with fresh mmaps and unmaps them on free, so every step faults its working
set in again; where a page fault is expensive (about 10 us on the development VM) that halves PyTorch's training
throughput (docs/performance.md).
"""
import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time

# glibc's largest mmap threshold (32 MiB), no trimming, and 1 GiB of slack at each heap growth.
KEEP_FREED_MEMORY = {
    'MALLOC_MMAP_THRESHOLD_': '33554432',
    'MALLOC_TRIM_THRESHOLD_': '17179869184',
    'MALLOC_TOP_PAD_': '1073741824',
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--official', required=True, help='directory holding the official models/ package')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--case', action='append', help='run only these cases (repeatable)')
    parser.add_argument('--keep-freed-memory', action='store_true', help='glibc malloc keeps freed memory (see above)')
    args = parser.parse_args()
    if args.keep_freed_memory and any(os.environ.get(k) != v for k, v in KEEP_FREED_MEMORY.items()):
        # glibc reads these once, at startup: start again with them set.
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **KEEP_FREED_MEMORY})
    sys.path.insert(0, args.official)
    import torch
    from models.resnet_rla import RLA_Bottleneck, RLA_ResNet, rla_resnet50
    from models.mobilenetv2_dsrla import dsrla_mobilenetv2_k32

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    def train_case(model, batch, size, classes):
        x = torch.randn(batch, 3, size, size)
        y = torch.randint(0, classes, (batch,))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        return step

    def infer_case(model, batch):
        x = torch.randn(batch, 3, 224, 224)
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
        return step

    cases = {
        'train-cifar-b128': (128, lambda: train_case(RLA_ResNet(RLA_Bottleneck, [3, 3, 3, 3], num_classes=10), 128, 32, 10)),
        'train-rla_resnet50-b16': (16, lambda: train_case(rla_resnet50(), 16, 224, 1000)),
        'infer-rla_resnet50-b1': (1, lambda: infer_case(rla_resnet50(), 1)),
        'infer-rla_resnet50-b16': (16, lambda: infer_case(rla_resnet50(), 16)),
        'infer-dsrla_mobilenetv2_k32-b1': (1, lambda: infer_case(dsrla_mobilenetv2_k32(), 1)),
        'infer-dsrla_mobilenetv2_k32-b16': (16, lambda: infer_case(dsrla_mobilenetv2_k32(), 16)),
    }
    rows = []
    for name, (batch, build) in cases.items():
        if args.case and name not in args.case:
            continue
        with contextlib.redirect_stdout(sys.stderr):  # the official constructors print progress
            step = build()
        for _ in range(3):  # as many warm-up runs as npm run bench gives a training case
            step()
        times = []
        start = time.time()
        while time.time() - start < args.seconds or len(times) < 3:
            t0 = time.time()
            step()
            times.append(time.time() - t0)
        row = {'case': name, 'engine': 'pytorch', 'threads': args.threads,
               'imgPerSec': round(batch / statistics.median(times), 2), 'runs': len(times),
               # Peak resident memory of this process so far (cases run in order; one --case gives its own).
               'peakRssMb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    print(json.dumps({'torch': torch.__version__, 'threads': args.threads, 'keepFreedMemory': args.keep_freed_memory,
                      'cases': rows}, indent=2))


if __name__ == '__main__':
    main()
