"""Reference values for rla-net's COCO evaluator from pycocotools itself.

pycocotools cannot be pip-installed here, so this runs its own sources: the Python files of a cocoapi checkout
(coco.py, cocoeval.py, mask.py) over its C mask code (common/maskApi.c) compiled with gcc and called through ctypes
(pycocotools_shim.py). It writes, under test/fixtures/coco/:

- maskapi-reference.json: random polygons on one image -> maskApi's compressed RLE string, area, box, and the
  plain and crowd mask IoU matrices;
- cocoeval-reference.json: a random seeded COCO-format dataset (polygons, crowd RLEs, an image without objects,
  a category without objects) with detections (jittered copies, duplicates, false positives, tied scores, more
  than 10 per image), and COCOeval's 12 stats for bbox and for segm.

Usage: python3 tools/coco-reference/make_fixtures.py /path/to/cocoapi-checkout [out_dir]
(the checkout: `git clone https://github.com/cocodataset/cocoapi`, commit 8c9bcc3 was used).
"""
import contextlib
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pycocotools_shim  # noqa: E402


def star_polygon(rng, cx, cy, radius, vertices):
    """A random star-shaped polygon (float coordinates) around (cx, cy)."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    radii = radius * rng.uniform(0.5, 1.0, vertices)
    xy = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    return [round(float(v), 2) for v in xy.reshape(-1)]


def jitter(rng, polygon, sigma):
    return [round(float(v + rng.normal(0, sigma)), 2) for v in polygon]


def column_major_counts(mask):
    """Uncompressed COCO RLE counts of a 2-D 0/1 array (column-major, zeros first)."""
    flat = mask.flatten(order='F')
    counts, previous, run = [], 0, 0
    for value in flat:
        if value != previous:
            counts.append(run)
            run, previous = 0, value
        run += 1
    counts.append(run)
    return counts


def maskapi_reference(mask_utils, rng):
    h, w = 40, 50
    polygons = [star_polygon(rng, rng.uniform(5, 45), rng.uniform(5, 35), rng.uniform(3, 18), int(rng.integers(3, 9)))
                for _ in range(12)]
    polygons.append([0, 0, 10, 0, 10, 10, 0, 10])
    polygons.append([-5.3, -2.2, 60.1, 3.3, 30.7, 50.9])  # clipped at every edge
    rles = [mask_utils.frPyObjects([p], h, w)[0] for p in polygons]
    entries = [{'xy': p, 'counts': r['counts'].decode(), 'area': int(mask_utils.area(r)),
                'bbox': [float(v) for v in mask_utils.toBbox(r)]} for p, r in zip(polygons, rles)]
    n = len(rles)
    return {
        'height': h, 'width': w, 'polygons': entries,
        'ious': mask_utils.iou(rles, rles, [0] * n).tolist(),
        'crowdIous': mask_utils.iou(rles, rles, [1] * n).tolist(),
    }


def random_dataset(mask_utils, rng):
    images, annotations, results = [], [], []
    categories = [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}, {'id': 4, 'name': 'c'}, {'id': 5, 'name': 'd'}]
    for image_id in range(1, 9):
        w, h = int(rng.integers(60, 260)), int(rng.integers(60, 260))
        images.append({'id': image_id, 'file_name': f'{image_id}.png', 'width': w, 'height': h})
        if image_id == 8:
            continue  # an image without objects (detections only)
        for k in range(int(rng.integers(1, 7))):
            category = int(rng.choice([1, 2, 4]))
            radius = float(rng.choice([4, 12, 30, 120])) * rng.uniform(0.6, 1.2)
            polygon = star_polygon(rng, rng.uniform(0, w), rng.uniform(0, h), radius, int(rng.integers(4, 9)))
            if k == 0 and image_id in (2, 3):  # large objects (area > 96^2) for APl
                polygon = star_polygon(rng, w / 2, h / 2, min(w, h) / 2, 10)
            rle = mask_utils.frPyObjects([polygon], h, w)[0]
            if int(mask_utils.area(rle)) == 0:
                continue
            crowd = rng.uniform() < 0.2
            if crowd:
                x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
                mask = np.zeros((h, w), dtype=np.uint8)
                mask[y0:y0 + int(rng.integers(10, h // 2)), x0:x0 + int(rng.integers(10, w // 2))] = 1
                segmentation = {'size': [h, w], 'counts': column_major_counts(mask)}
                rle = mask_utils.frPyObjects(segmentation, h, w)
            else:
                segmentation = [polygon]
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            annotations.append({'id': len(annotations) + 1, 'image_id': image_id, 'category_id': category,
                                'bbox': bbox, 'area': float(mask_utils.area(rle)), 'iscrowd': int(crowd),
                                'segmentation': segmentation})
            if crowd:  # an object inside the crowd: its detection overlaps both (the matcher prefers the object)
                x, y, bw, bh = bbox
                inner = star_polygon(rng, x + bw / 2, y + bh / 2, min(bw, bh) / 3, 6)
                inner_rle = mask_utils.frPyObjects([inner], h, w)[0]
                annotations.append({'id': len(annotations) + 1, 'image_id': image_id, 'category_id': category,
                                    'bbox': [float(v) for v in mask_utils.toBbox(inner_rle)],
                                    'area': float(mask_utils.area(inner_rle)), 'iscrowd': 0,
                                    'segmentation': [inner]})
    # Detections: jittered copies (sometimes two), false positives, a category without objects, ties.
    def add(image, category, polygon, score):
        rle = mask_utils.frPyObjects([polygon], image['height'], image['width'])[0]
        if int(mask_utils.area(rle)) == 0:
            return
        box = [float(v) for v in mask_utils.toBbox(rle)]
        box = [round(box[0] + rng.normal(0, 0.7), 2), round(box[1] + rng.normal(0, 0.7), 2),
               round(max(box[2] + rng.normal(0, 1.0), 0.5), 2), round(max(box[3] + rng.normal(0, 1.0), 0.5), 2)]
        results.append({'image_id': image['id'], 'category_id': category, 'bbox': box,
                        'score': round(float(score), 2), 'segmentation': {'size': rle['size'],
                                                                            'counts': rle['counts'].decode()}})

    by_id = {image['id']: image for image in images}
    for ann in annotations:
        if ann['iscrowd']:  # detections inside the crowd region: ignored, not false positives
            x, y, bw, bh = ann['bbox']
            for _ in range(3):
                add(by_id[ann['image_id']], ann['category_id'],
                    star_polygon(rng, x + rng.uniform(0.2, 0.8) * bw, y + rng.uniform(0.2, 0.8) * bh, 5, 6),
                    rng.uniform(0.05, 1))
            continue
        if rng.uniform() < 0.15:
            continue
        image = by_id[ann['image_id']]
        for _ in range(2 if rng.uniform() < 0.2 else 1):
            add(image, ann['category_id'], jitter(rng, ann['segmentation'][0], rng.choice([0.3, 1.5, 4])),
                rng.uniform(0.05, 1))
    for image in images:
        for _ in range(int(rng.integers(0, 4)) + (12 if image['id'] == 3 else 0)):
            add(image, int(rng.choice([1, 2, 4, 5])),
                star_polygon(rng, rng.uniform(0, image['width']), rng.uniform(0, image['height']),
                             float(rng.choice([5, 15, 40])), 6), rng.uniform(0.05, 1))
    return {'images': images, 'categories': categories, 'annotations': annotations}, results


def evaluate(dataset, results, iou_type):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()) as printed:
        gt = COCO()
        gt.dataset = json.loads(json.dumps(dataset))
        gt.createIndex()
        dt = gt.loadRes(json.loads(json.dumps(results)))
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    lines = [line for line in printed.getvalue().splitlines() if line.startswith(' Average')]
    return [float(v) for v in evaluator.stats], lines


def main():
    cocoapi = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..', '..', 'test',
                                                                  'fixtures', 'coco')
    pycocotools_shim.install(cocoapi)
    from pycocotools import mask as mask_utils

    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(20211208)
    with open(os.path.join(out_dir, 'maskapi-reference.json'), 'w') as f:
        json.dump(maskapi_reference(mask_utils, rng), f)
    dataset, results = random_dataset(mask_utils, rng)
    reference = {'dataset': dataset, 'results': results}
    for iou_type in ['bbox', 'segm']:
        stats, lines = evaluate(dataset, results, iou_type)
        reference[iou_type] = {'stats': stats, 'lines': lines}
        print(iou_type, ' '.join(f'{s:.4f}' for s in stats))
    with open(os.path.join(out_dir, 'cocoeval-reference.json'), 'w') as f:
        json.dump(reference, f)
    print(f'{len(dataset["annotations"])} objects, {len(results)} detections')


if __name__ == '__main__':
    main()
