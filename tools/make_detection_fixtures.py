"""Reference fixtures for rla-net's detectors (test/fixtures/detection/), with mmdetection 2.10 inference semantics.

mmdetection / mmcv cannot be installed here, so this script rebuilds the three detectors of the official RLA-Net
`mmdetection/` folder from the official backbone file (`resnet_rla.py`, executed as it is, minus its mmcv/mmdet
imports) plus the mmdet 2.10 / mmcv 1.2.7 test-time code, transcribed below, over torchvision ops that match mmcv:
`roi_align(aligned=True, sampling_ratio=0)` and `nms`. Weights are random but seeded, stored in the mmdet key
layout (`backbone.` / `neck.` / `rpn_head.` / `roi_head.` / `bbox_head.`) inside an mmdet-style checkpoint
(`state_dict` + `meta`), so loading them exercises the same path as a released COCO file.

The networks are tiny (backbone planes / 8, 16 FPN channels) and the images small (a test scale of (400, 256)
instead of (1333, 800)); every algorithm is the full-size one. The heads' biases are set so that every image has
several detections above the score threshold, many of them overlapping so NMS has work to do.

Run: /usr/bin/python3 tools/make_detection_fixtures.py   (writes test/fixtures/detection/)
Also writes the full-size key lists (names and shapes, no values) of the six released configs.
"""

import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import nms as tv_nms
from torchvision.ops import roi_align

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'detection')
OFFICIAL_BACKBONE = '/tmp/rlanet/mmdetection/resnet_rla.py'
torch.set_num_threads(2)


def write_safetensors(path, tensors, metadata):
    """A minimal safetensors writer (F32 and U8 tensors), so the script needs no extra package."""
    header = {'__metadata__': metadata}
    offset, blobs = 0, []
    for name, tensor in tensors.items():
        array = tensor.detach().cpu().numpy()
        dtype = 'U8' if array.dtype == np.uint8 else 'F32'
        data = np.ascontiguousarray(array, dtype='u1' if dtype == 'U8' else '<f4').tobytes()
        header[name] = {'dtype': dtype, 'shape': list(array.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header, separators=(',', ':')).encode('utf-8')
    encoded += b' ' * ((8 - len(encoded) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def load_official_backbone():
    """The official RLA_ResNet class, executed from its file without the mmcv / mmdet registry imports."""
    source = open(OFFICIAL_BACKBONE).read()
    for line in ('from mmcv.runner import load_checkpoint', 'from mmdet.utils import get_root_logger',
                 'from ..builder import BACKBONES', '@BACKBONES.register_module()'):
        assert line in source, line
        source = source.replace(line, '')
    namespace = {}
    exec(compile(source, OFFICIAL_BACKBONE, 'exec'), namespace)
    return namespace['RLA_ResNet']


RLA_ResNet = load_official_backbone()


class TinyRLAResNet(RLA_ResNet):
    """The official backbone with every stage's `planes` divided by `divisor` (the stem stays 64 wide)."""

    def __init__(self, divisor, **kwargs):
        self.divisor = divisor
        super().__init__(**kwargs)
        self.flops = True  # the official forward allocates h on CUDA unless this is set

    def _make_layer(self, block, planes, blocks, **kwargs):
        return super()._make_layer(block, planes // self.divisor, blocks, **kwargs)


# ----------------------------------------------------------------------------------------------------------------
# mmdet 2.10 modules (inference paths only), with mmdet's parameter names.


class ConvModule(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, relu=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding)
        self.relu = relu

    def forward(self, x):
        x = self.conv(x)
        return F.relu(x) if self.relu else x


class FPN(nn.Module):
    def __init__(self, in_channels, out_channels, num_outs, start_level=0, add_extra_convs=False):
        super().__init__()
        self.in_channels, self.num_outs, self.start_level = in_channels, num_outs, start_level
        self.add_extra_convs = add_extra_convs
        self.backbone_end_level = len(in_channels)
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, self.backbone_end_level):
            self.lateral_convs.append(ConvModule(in_channels[i], out_channels, 1))
            self.fpn_convs.append(ConvModule(out_channels, out_channels, 3, padding=1))
        extra_levels = num_outs - self.backbone_end_level + start_level
        if add_extra_convs and extra_levels >= 1:
            for i in range(extra_levels):
                cin = in_channels[self.backbone_end_level - 1] if i == 0 and add_extra_convs == 'on_input' \
                    else out_channels
                self.fpn_convs.append(ConvModule(cin, out_channels, 3, stride=2, padding=1))

    def forward(self, inputs):
        laterals = [conv(inputs[i + self.start_level]) for i, conv in enumerate(self.lateral_convs)]
        used = len(laterals)
        for i in range(used - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], size=laterals[i - 1].shape[2:],
                                                              mode='nearest')
        outs = [self.fpn_convs[i](laterals[i]) for i in range(used)]
        if self.num_outs > len(outs):
            if not self.add_extra_convs:
                for _ in range(self.num_outs - used):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                assert self.add_extra_convs == 'on_input'
                outs.append(self.fpn_convs[used](inputs[self.backbone_end_level - 1]))
                for i in range(used + 1, self.num_outs):
                    outs.append(self.fpn_convs[i](outs[-1]))
        return outs


def base_anchors(base_size, ratios, scales):
    """mmdet AnchorGenerator.gen_single_level_base_anchors, center offset 0, scale-major False order = ratio-major."""
    w = h = base_size
    x_center, y_center = 0.0, 0.0
    h_ratios = torch.sqrt(torch.tensor(ratios, dtype=torch.float32))
    w_ratios = 1 / h_ratios
    scales = torch.tensor(scales, dtype=torch.float32)
    ws = (w * w_ratios[:, None] * scales[None, :]).view(-1)
    hs = (h * h_ratios[:, None] * scales[None, :]).view(-1)
    return torch.stack([x_center - 0.5 * ws, y_center - 0.5 * hs, x_center + 0.5 * ws, y_center + 0.5 * hs], -1)


def grid_anchors(base, stride, feat_h, feat_w):
    shift_x = torch.arange(0, feat_w) * stride
    shift_y = torch.arange(0, feat_h) * stride
    yy, xx = torch.meshgrid(shift_y, shift_x, indexing='ij')
    xx, yy = xx.reshape(-1), yy.reshape(-1)
    shifts = torch.stack([xx, yy, xx, yy], -1).float()
    return (base[None, :, :] + shifts[:, None, :]).view(-1, 4)


def delta2bbox(rois, deltas, stds, max_shape, wh_ratio_clip=16 / 1000):
    """mmdet DeltaXYWHBBoxCoder.decode (means 0), clipped to the resized image (h, w)."""
    stds = deltas.new_tensor(stds).view(1, -1).repeat(1, deltas.size(1) // 4)
    d = deltas * stds
    dx, dy, dw, dh = d[:, 0::4], d[:, 1::4], d[:, 2::4], d[:, 3::4]
    max_ratio = abs(math.log(wh_ratio_clip))
    dw = dw.clamp(min=-max_ratio, max=max_ratio)
    dh = dh.clamp(min=-max_ratio, max=max_ratio)
    px = ((rois[:, 0] + rois[:, 2]) * 0.5).unsqueeze(1).expand_as(dx)
    py = ((rois[:, 1] + rois[:, 3]) * 0.5).unsqueeze(1).expand_as(dy)
    pw = (rois[:, 2] - rois[:, 0]).unsqueeze(1).expand_as(dw)
    ph = (rois[:, 3] - rois[:, 1]).unsqueeze(1).expand_as(dh)
    gw = pw * dw.exp()
    gh = ph * dh.exp()
    gx = px + pw * dx
    gy = py + ph * dy
    x1 = (gx - gw * 0.5).clamp(min=0, max=max_shape[1])
    y1 = (gy - gh * 0.5).clamp(min=0, max=max_shape[0])
    x2 = (gx + gw * 0.5).clamp(min=0, max=max_shape[1])
    y2 = (gy + gh * 0.5).clamp(min=0, max=max_shape[0])
    return torch.stack([x1, y1, x2, y2], dim=-1).view_as(deltas)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """mmcv batched_nms semantics: NMS per class (IoU > threshold suppresses), kept indices by descending score."""
    keep_mask = torch.zeros_like(scores, dtype=torch.bool)
    for c in torch.unique(idxs):
        inds = torch.where(idxs == c)[0]
        keep_mask[inds[tv_nms(boxes[inds], scores[inds], iou_threshold)]] = True
    keep = torch.where(keep_mask)[0]
    keep = keep[scores[keep].sort(descending=True, stable=True)[1]]
    return torch.cat([boxes[keep], scores[keep, None]], -1), keep


def multiclass_nms(multi_bboxes, multi_scores, score_thr, iou_threshold, max_num):
    num_classes = multi_scores.size(1) - 1
    if multi_bboxes.shape[1] > 4:
        bboxes = multi_bboxes.view(multi_scores.size(0), -1, 4)
    else:
        bboxes = multi_bboxes[:, None].expand(multi_scores.size(0), num_classes, 4)
    scores = multi_scores[:, :-1]
    labels = torch.arange(num_classes).view(1, -1).expand_as(scores)
    bboxes, scores, labels = bboxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
    inds = torch.where(scores > score_thr)[0]
    bboxes, scores, labels = bboxes[inds], scores[inds], labels[inds]
    dets, keep = batched_nms(bboxes, scores, labels, iou_threshold)
    return dets[:max_num], labels[keep][:max_num], len(inds)


class RPNHead(nn.Module):
    def __init__(self, cin, feat, num_anchors):
        super().__init__()
        self.rpn_conv = nn.Conv2d(cin, feat, 3, padding=1)
        self.rpn_cls = nn.Conv2d(feat, num_anchors, 1)
        self.rpn_reg = nn.Conv2d(feat, num_anchors * 4, 1)

    def forward(self, feats):
        outs = []
        for x in feats:
            x = F.relu(self.rpn_conv(x))
            outs.append((self.rpn_cls(x), self.rpn_reg(x)))
        return outs


class Shared2FCBBoxHead(nn.Module):
    def __init__(self, cin, roi, fc_out, num_classes):
        super().__init__()
        self.shared_fcs = nn.ModuleList([nn.Linear(cin * roi * roi, fc_out), nn.Linear(fc_out, fc_out)])
        self.fc_cls = nn.Linear(fc_out, num_classes + 1)
        self.fc_reg = nn.Linear(fc_out, num_classes * 4)

    def forward(self, x):
        x = x.flatten(1)
        for fc in self.shared_fcs:
            x = F.relu(fc(x))
        return self.fc_cls(x), self.fc_reg(x)


class FCNMaskHead(nn.Module):
    def __init__(self, cin, num_convs, conv_out, num_classes):
        super().__init__()
        self.convs = nn.ModuleList(
            [ConvModule(cin if i == 0 else conv_out, conv_out, 3, padding=1, relu=True) for i in range(num_convs)])
        self.upsample = nn.ConvTranspose2d(conv_out, conv_out, 2, stride=2)
        self.conv_logits = nn.Conv2d(conv_out, num_classes, 1)

    def forward(self, x):
        for conv in self.convs:
            x = conv(x)
        return self.conv_logits(F.relu(self.upsample(x)))


class BBoxRoIHead(nn.Module):
    """StandardRoIHead's parameters: `bbox_head` and, for Mask R-CNN, `mask_head`."""

    def __init__(self, cfg):
        super().__init__()
        self.bbox_head = Shared2FCBBoxHead(cfg['neck']['outChannels'], 7, cfg['roi']['fcOutChannels'],
                                           cfg['numClasses'])
        if cfg['roi'].get('mask'):
            m = cfg['roi']['mask']
            self.mask_head = FCNMaskHead(cfg['neck']['outChannels'], m['numConvs'], m['convOutChannels'],
                                         cfg['numClasses'])


class RetinaHead(nn.Module):
    def __init__(self, cin, feat, stacked, num_anchors, num_classes):
        super().__init__()
        self.cls_convs = nn.ModuleList(
            [ConvModule(cin if i == 0 else feat, feat, 3, padding=1, relu=True) for i in range(stacked)])
        self.reg_convs = nn.ModuleList(
            [ConvModule(cin if i == 0 else feat, feat, 3, padding=1, relu=True) for i in range(stacked)])
        self.retina_cls = nn.Conv2d(feat, num_anchors * num_classes, 3, padding=1)
        self.retina_reg = nn.Conv2d(feat, num_anchors * 4, 3, padding=1)

    def forward(self, feats):
        outs = []
        for x in feats:
            c, r = x, x
            for conv in self.cls_convs:
                c = conv(c)
            for conv in self.reg_convs:
                r = conv(r)
            outs.append((self.retina_cls(c), self.retina_reg(r)))
        return outs


def map_roi_levels(rois, num_levels, finest_scale=56):
    scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
    return torch.floor(torch.log2(scale / finest_scale + 1e-6)).clamp(min=0, max=num_levels - 1).long()


def roi_extract(feats, rois, out_size, strides):
    """mmdet SingleRoIExtractor with mmcv RoIAlign(aligned=True, sampling_ratio=0), rois [n, 5] (batch, box)."""
    levels = map_roi_levels(rois, len(strides))
    out = feats[0].new_zeros(rois.size(0), feats[0].size(1), out_size, out_size)
    for i, stride in enumerate(strides):
        inds = torch.where(levels == i)[0]
        if inds.numel() > 0:
            out[inds] = roi_align(feats[i], rois[inds], out_size, spatial_scale=1 / stride, sampling_ratio=0,
                                  aligned=True)
    return out, levels


AMBIGUOUS = 1e-5


def paste_masks(masks, boxes, img_h, img_w, threshold):
    """mmdet _do_paste_mask (CPU path: skip_empty) + threshold: masks [n, 28, 28] probabilities, boxes [n, 4].

    Also returns the (instance, pixel) pairs whose pasted probability is within AMBIGUOUS of the threshold: float32
    noise upstream (1e-7 relative) may flip them, so the parity test accepts differences there and nowhere else.
    """
    out = torch.zeros(masks.size(0), img_h, img_w, dtype=torch.bool)
    ambiguous = []
    for i in range(masks.size(0)):  # mmdet's CPU path pastes one mask per chunk
        box = boxes[i:i + 1]
        x0_int, y0_int = torch.clamp(box.min(dim=0).values.floor()[:2] - 1, min=0).to(dtype=torch.int32)
        x1_int = torch.clamp(box[:, 2].max().ceil() + 1, max=img_w).to(dtype=torch.int32)
        y1_int = torch.clamp(box[:, 3].max().ceil() + 1, max=img_h).to(dtype=torch.int32)
        x0, y0, x1, y1 = torch.split(box, 1, dim=1)
        img_y = torch.arange(y0_int, y1_int, dtype=torch.float32) + 0.5
        img_x = torch.arange(x0_int, x1_int, dtype=torch.float32) + 0.5
        img_y = (img_y - y0) / (y1 - y0) * 2 - 1
        img_x = (img_x - x0) / (x1 - x0) * 2 - 1
        gx = img_x[:, None, :].expand(1, img_y.size(1), img_x.size(1))
        gy = img_y[:, :, None].expand(1, img_y.size(1), img_x.size(1))
        grid = torch.stack([gx, gy], dim=3)
        pasted = F.grid_sample(masks[i:i + 1, None].float(), grid, align_corners=False)[:, 0]
        out[i, y0_int:y1_int, x0_int:x1_int] = pasted[0] >= threshold
        for y, x in torch.nonzero((pasted[0] - threshold).abs() < AMBIGUOUS).tolist():
            ambiguous.append([i, (y + int(y0_int)) * img_w + x + int(x0_int)])
    return out, torch.tensor(ambiguous, dtype=torch.float32).reshape(-1, 2)


# ----------------------------------------------------------------------------------------------------------------
# Preprocessing: mmcv.imrescale (keep ratio, bilinear) -> normalize (RGB) -> pad to a multiple of 32 with zeros.


def rescale_size(w, h, scale):
    max_long, max_short = max(scale), min(scale)
    factor = min(max_long / max(h, w), max_short / min(h, w))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def resize_bilinear(image, out_h, out_w):
    """cv2.INTER_LINEAR semantics (half-pixel centres, edge clamp, no antialias) in float64, rounded to uint8."""
    in_h, in_w = image.shape[:2]
    if (in_h, in_w) == (out_h, out_w):
        return image.copy()

    def axis(in_size, out_size):
        src = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
        i0 = np.floor(src).astype(np.int64)
        frac = src - i0
        frac[i0 < 0] = 0
        i0[i0 < 0] = 0
        over = i0 >= in_size - 1
        frac[over] = 0
        i0[over] = in_size - 1
        i1 = np.minimum(i0 + 1, in_size - 1)
        return i0, i1, frac

    y0, y1, fy = axis(in_h, out_h)
    x0, x1, fx = axis(in_w, out_w)
    img = image.astype(np.float64)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bottom = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    value = top * (1 - fy)[:, None, None] + bottom * fy[:, None, None]
    return np.clip(np.floor(value + 0.5), 0, 255).astype(np.uint8)


def preprocess(image, cfg):
    h, w = image.shape[:2]
    new_w, new_h = rescale_size(w, h, cfg['testScale'])
    resized = resize_bilinear(image, new_h, new_w)
    scale_factor = torch.tensor([new_w / w, new_h / h, new_w / w, new_h / h], dtype=torch.float32)
    x = (torch.from_numpy(resized).float() - torch.tensor(cfg['mean'])) / torch.tensor(cfg['std'])
    div = cfg['sizeDivisor']
    pad_h, pad_w = math.ceil(new_h / div) * div, math.ceil(new_w / div) * div
    padded = torch.zeros(pad_h, pad_w, 3)
    padded[:new_h, :new_w] = x
    return padded.permute(2, 0, 1)[None].contiguous(), (new_h, new_w), scale_factor, resized


# ----------------------------------------------------------------------------------------------------------------
# The detectors.

COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
    'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis',
    'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket',
    'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
    'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
    'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier',
    'toothbrush')


class Detector(nn.Module):
    def __init__(self, cfg, divisor=1):
        super().__init__()
        self.cfg = cfg
        b = cfg['backbone']
        self.backbone = TinyRLAResNet(divisor, layers=b['layers'], rla_channel=b['rlaChannel'],
                                      ECA=b['ecaKernelSizes'], frozen_stages=b['frozenStages'],
                                      norm_eval=b['normEval'])
        n = cfg['neck']
        self.neck = FPN(n['inChannels'], n['outChannels'], n['numOuts'], n['startLevel'], n['addExtraConvs'])
        if cfg['kind'] == 'retinanet':
            r = cfg['retina']
            self.bbox_head = RetinaHead(n['outChannels'], r['featChannels'], r['stackedConvs'],
                                        len(r['anchors']['ratios']) * len(r['anchors']['scales']), cfg['numClasses'])
        else:
            r = cfg['rpn']
            self.rpn_head = RPNHead(n['outChannels'], r['featChannels'],
                                    len(r['anchors']['ratios']) * len(r['anchors']['scales']))
            self.roi_head = BBoxRoIHead(cfg)

    # -- inference, one image, recording intermediates into `rec` --
    def run(self, image, rec):
        cfg = self.cfg
        x, img_shape, scale_factor, resized = preprocess(image, cfg)
        rec['input'] = x
        feats = self.backbone(x)
        for i, f in enumerate(feats):
            rec[f'backbone.{i}'] = f
        outs = self.neck(feats)
        for i, f in enumerate(outs):
            rec[f'neck.{i}'] = f
        if cfg['kind'] == 'retinanet':
            dets, labels = self.retina_test(outs, img_shape, scale_factor, rec)
            masks = None
        else:
            proposals = self.rpn_test(outs, img_shape, rec)
            dets, labels = self.bbox_test(outs, proposals, img_shape, scale_factor, rec)
            masks = self.mask_test(outs, dets, labels, image.shape[:2], scale_factor, rec) \
                if cfg['roi'].get('mask') else None
        return dets, labels, masks, img_shape, scale_factor, resized

    def anchors(self, anchor_cfg, outs):
        result = []
        for stride, f in zip(anchor_cfg['strides'], outs):
            base = base_anchors(stride, anchor_cfg['ratios'], anchor_cfg['scales'])
            result.append(grid_anchors(base, stride, f.shape[2], f.shape[3]))
        return result

    def rpn_test(self, outs, img_shape, rec):
        r = self.cfg['rpn']
        test = r['test']
        head_outs = self.rpn_head(outs)
        anchors = self.anchors(r['anchors'], outs)
        mlvl_scores, mlvl_deltas, mlvl_anchors, level_ids = [], [], [], []
        for lvl, ((cls, reg), a) in enumerate(zip(head_outs, anchors)):
            rec[f'rpn.cls.{lvl}'] = cls
            rec[f'rpn.reg.{lvl}'] = reg
            scores = cls[0].permute(1, 2, 0).reshape(-1).sigmoid()
            deltas = reg[0].permute(1, 2, 0).reshape(-1, 4)
            if test['nmsPre'] > 0 and scores.shape[0] > test['nmsPre']:
                ranked, rank_inds = scores.sort(descending=True, stable=True)
                topk = rank_inds[:test['nmsPre']]
                scores, deltas, a = ranked[:test['nmsPre']], deltas[topk], a[topk]
            mlvl_scores.append(scores)
            mlvl_deltas.append(deltas)
            mlvl_anchors.append(a)
            level_ids.append(torch.full((scores.size(0),), lvl, dtype=torch.long))
        scores = torch.cat(mlvl_scores)
        proposals = delta2bbox(torch.cat(mlvl_anchors), torch.cat(mlvl_deltas), r['stds'], img_shape)
        dets, _ = batched_nms(proposals, scores, torch.cat(level_ids), test['iouThreshold'])
        dets = dets[:test['maxPerImg']]
        rec['rpn.proposals'] = dets
        return dets

    def bbox_test(self, outs, proposals, img_shape, scale_factor, rec):
        roi_cfg = self.cfg['roi']
        rois = torch.cat([proposals.new_zeros(proposals.size(0), 1), proposals[:, :4]], 1)
        feats, levels = roi_extract(outs[:len(roi_cfg['featmapStrides'])], rois, 7, roi_cfg['featmapStrides'])
        rec['roi.levels'] = levels.float()
        rec['roi.feats'] = feats[:KEPT_ROWS['roi.feats']]
        cls_score, bbox_pred = self.roi_head.bbox_head(feats)
        rec['bbox.cls_score'] = cls_score[:KEPT_ROWS['bbox.cls_score']]
        rec['bbox.bbox_pred'] = bbox_pred[:KEPT_ROWS['bbox.bbox_pred']]
        scores = F.softmax(cls_score, dim=1)
        bboxes = delta2bbox(rois[:, 1:], bbox_pred, roi_cfg['stds'], img_shape)
        bboxes = (bboxes.view(bboxes.size(0), -1, 4) / scale_factor).view(bboxes.size(0), -1)
        test = roi_cfg['test']
        dets, labels, candidates = multiclass_nms(bboxes, scores, test['scoreThr'], test['iouThreshold'],
                                                  test['maxPerImg'])
        rec['stat.candidates'] = torch.tensor([float(candidates)])
        return dets, labels

    def mask_test(self, outs, dets, labels, ori_shape, scale_factor, rec):
        m = self.cfg['roi']['mask']
        boxes = dets[:, :4] * scale_factor
        rois = torch.cat([boxes.new_zeros(boxes.size(0), 1), boxes], 1)
        feats, _ = roi_extract(outs[:4], rois, 14, self.cfg['roi']['featmapStrides'])
        mask_pred = self.roi_head.mask_head(feats)
        rec['mask.pred'] = mask_pred[torch.arange(len(labels)), labels]
        probs = mask_pred[torch.arange(len(labels)), labels].sigmoid()
        masks, ambiguous = paste_masks(probs, boxes / scale_factor, ori_shape[0], ori_shape[1], m['maskThrBinary'])
        rec['stat.ambiguous'] = ambiguous
        return masks

    def retina_test(self, outs, img_shape, scale_factor, rec):
        r = self.cfg['retina']
        test = r['test']
        head_outs = self.bbox_head(outs)
        anchors = self.anchors(r['anchors'], outs)
        num_classes = self.cfg['numClasses']
        mlvl_boxes, mlvl_scores = [], []
        for lvl, ((cls, reg), a) in enumerate(zip(head_outs, anchors)):
            rec[f'retina.cls.{lvl}'] = cls
            rec[f'retina.reg.{lvl}'] = reg
            scores = cls[0].permute(1, 2, 0).reshape(-1, num_classes).sigmoid()
            deltas = reg[0].permute(1, 2, 0).reshape(-1, 4)
            if test['nmsPre'] > 0 and scores.shape[0] > test['nmsPre']:
                max_scores, _ = scores.max(dim=1)
                _, topk = max_scores.sort(descending=True, stable=True)
                topk = topk[:test['nmsPre']]
                a, deltas, scores = a[topk], deltas[topk], scores[topk]
            mlvl_boxes.append(delta2bbox(a, deltas, r['stds'], img_shape))
            mlvl_scores.append(scores)
        boxes = torch.cat(mlvl_boxes) / scale_factor
        scores = torch.cat(mlvl_scores)
        scores = torch.cat([scores, scores.new_zeros(scores.size(0), 1)], 1)
        dets, labels, candidates = multiclass_nms(boxes, scores, test['scoreThr'], test['iouThreshold'],
                                                  test['maxPerImg'])
        rec['stat.candidates'] = torch.tensor([float(candidates)])
        return dets, labels


# ----------------------------------------------------------------------------------------------------------------
# Configs (the same JSON the TypeScript side reads: src/detection/configs.ts).

RPN_ANCHORS = {'strides': [4, 8, 16, 32, 64], 'ratios': [0.5, 1.0, 2.0], 'scales': [8]}
RETINA_ANCHORS = {'strides': [8, 16, 32, 64, 128], 'ratios': [0.5, 1.0, 2.0],
                  'scales': [4 * 2 ** (i / 3) for i in range(3)]}


def make_config(kind, eca, divisor=1, neck_channels=256, head_channels=256, fc_channels=1024,
                test_scale=(1333, 800), layers=(3, 4, 6, 3), rla_channel=32):
    out_channels = [64 * 4 * 2 ** i // divisor for i in range(4)]
    cfg = {
        'kind': kind,
        'numClasses': 80,
        'testScale': list(test_scale),
        'sizeDivisor': 32,
        'mean': [123.675, 116.28, 103.53],
        'std': [58.395, 57.12, 57.375],
        'backbone': {'layers': list(layers), 'rlaChannel': rla_channel, 'ecaKernelSizes': [5, 5, 5, 7] if eca else None,
                     'stagePlanes': [64 * 2 ** i // divisor for i in range(4)], 'frozenStages': 1, 'normEval': True},
    }
    if kind == 'retinanet':
        cfg['neck'] = {'inChannels': out_channels, 'outChannels': neck_channels, 'numOuts': 5, 'startLevel': 1,
                       'addExtraConvs': 'on_input'}
        cfg['retina'] = {'featChannels': head_channels, 'stackedConvs': 4, 'anchors': RETINA_ANCHORS,
                         'stds': [1.0, 1.0, 1.0, 1.0],
                         'test': {'nmsPre': 1000, 'scoreThr': 0.05, 'iouThreshold': 0.5, 'maxPerImg': 100}}
    else:
        cfg['neck'] = {'inChannels': out_channels, 'outChannels': neck_channels, 'numOuts': 5, 'startLevel': 0,
                       'addExtraConvs': False}
        cfg['rpn'] = {'featChannels': head_channels, 'anchors': RPN_ANCHORS, 'stds': [1.0, 1.0, 1.0, 1.0],
                      'test': {'nmsPre': 1000, 'maxPerImg': 1000, 'iouThreshold': 0.7, 'minBboxSize': 0}}
        cfg['roi'] = {'featmapStrides': [4, 8, 16, 32], 'finestScale': 56, 'fcOutChannels': fc_channels,
                      'stds': [0.1, 0.1, 0.2, 0.2],
                      'test': {'scoreThr': 0.05, 'iouThreshold': 0.5, 'maxPerImg': 100}}
        if kind == 'mask_rcnn':
            cfg['roi']['mask'] = {'numConvs': 4, 'convOutChannels': neck_channels, 'maskThrBinary': 0.5}
    return cfg


def tiny_config(kind):
    return make_config(kind, eca=kind == 'retinanet', divisor=8, neck_channels=16, head_channels=16, fc_channels=32,
                       test_scale=(400, 256), layers=(2, 1, 1, 1), rla_channel=8)


# ----------------------------------------------------------------------------------------------------------------
# Seeded weights.


def randomize(model, seed, kind):
    g = torch.Generator().manual_seed(seed)

    def normal(t, std):
        t.copy_(torch.randn(t.shape, generator=g) * std)

    def uniform(t, lo, hi):
        t.copy_(lo + (hi - lo) * torch.rand(t.shape, generator=g))

    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.BatchNorm2d):
                uniform(m.weight, 0.6, 1.4)
                normal(m.bias, 0.2)
                normal(m.running_mean, 0.1)
                uniform(m.running_var, 0.5, 1.5)
            elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                fan_in = m.weight[0].numel() if not isinstance(m, nn.ConvTranspose2d) else m.weight.shape[0] * 4
                normal(m.weight, math.sqrt(1.0 / fan_in) * (1.4 if name.startswith('neck') else 1.0))
                if m.bias is not None:
                    normal(m.bias, 0.1)
        # Scores: a handful of classes likely enough to pass the 0.05 threshold (box heads), the rest unlikely.
        if kind == 'retinanet':
            head = model.bbox_head
            bias = torch.full((len(RETINA_ANCHORS['ratios']) * 3, 80), -8.0)
            bias[:, [0, 2, 15]] = torch.tensor([-3.9, -4.1, -4.3])
            head.retina_cls.bias.copy_(bias.reshape(-1))
            head.retina_cls.weight.mul_(2.0)
            head.retina_reg.weight.mul_(0.5)
        else:
            model.rpn_head.rpn_reg.weight.mul_(0.5)
            model.rpn_head.rpn_cls.weight.mul_(1.0)
            bh = model.roi_head.bbox_head
            bias = torch.full((81,), -5.0)
            bias[[0, 2, 15, 80]] = torch.tensor([-2.0, -2.2, -2.4, 3.0])
            bh.fc_cls.bias.copy_(bias)
            bh.fc_cls.weight.mul_(1.5)
            bh.fc_reg.weight.mul_(0.6)
            if hasattr(model.roi_head, 'mask_head'):
                model.roi_head.mask_head.conv_logits.weight.mul_(2.0)


def make_images(seed):
    """Three smooth random RGB images (blobs on a gradient): 256x320 (kept), 200x300 (upscaled), 300x250."""
    g = np.random.default_rng(seed)
    images = []
    for h, w in ((256, 320), (200, 300), (300, 250)):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        img = np.zeros((h, w, 3))
        img += g.uniform(40, 200, 3)[None, None, :] * (0.5 + 0.5 * xx[..., None] / w)
        for _ in range(6):
            cy, cx = g.uniform(0, h), g.uniform(0, w)
            r = g.uniform(15, 60)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
            img += blob[..., None] * g.uniform(-150, 150, 3)[None, None, :]
        img += g.normal(0, 8, img.shape)
        images.append(np.clip(np.round(img), 0, 255).astype(np.uint8))
    return images


# Intermediates stored for image 0, chosen to keep the fixtures at a few MB: the FPN levels, the last backbone
# stage, the head outputs of the smaller levels, proposals, RoI levels and a slice of the RoI features and box-head
# outputs (rows are in proposal order, so a prefix is a fair sample).
KEPT_ROWS = {'roi.feats': 48, 'bbox.cls_score': 200, 'bbox.bbox_pred': 64}


def keep_intermediate(name, kind):
    if name == 'input' or name.startswith('stat.') or name.startswith('backbone.') and name != 'backbone.3':
        return False
    if kind == 'mask_rcnn':  # the parts it shares with Faster R-CNN are checked on that fixture
        return name in ('neck.4', 'rpn.proposals', 'mask.pred')
    if name.startswith('rpn.cls.') or name.startswith('rpn.reg.'):
        return not name.endswith('.0')
    if name.startswith('retina.cls.'):
        return name[-1] in '34'
    if name.startswith('retina.reg.'):
        return name[-1] in '234'
    return True


def nchw_to_nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous() if t.dim() == 4 else t


def save_checkpoint(model, path, config_name):
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    meta = {'mmdet_version': '2.10.0', 'CLASSES': COCO_CLASSES, 'config': config_name, 'epoch': 12}
    torch.save({'meta': meta, 'state_dict': state}, path)


def build_fixture(kind, seed, images):
    cfg = tiny_config(kind)
    torch.manual_seed(seed)
    model = Detector(cfg, divisor=8).eval()
    randomize(model, seed + 1, kind)
    name = f'{kind}_tiny'
    save_checkpoint(model, os.path.join(OUT, f'{name}.pth'), name)
    with open(os.path.join(OUT, f'{name}.config.json'), 'w') as f:
        json.dump(cfg, f, indent=1)
    tensors = OrderedDict()
    summary = []
    with torch.no_grad():
        for i, image in enumerate(images):
            rec = OrderedDict()
            dets, labels, masks, img_shape, scale_factor, _ = model.run(image, rec)
            if i == 0:  # the intermediates of the first image (NHWC), those small enough to keep
                for k, v in rec.items():
                    if keep_intermediate(k, kind):
                        tensors[f'img0.{k}'] = nchw_to_nhwc(v.float())
            tensors[f'img{i}.dets'] = dets.float()
            tensors[f'img{i}.labels'] = labels.float()
            tensors[f'img{i}.img_shape'] = torch.tensor(img_shape, dtype=torch.float32)
            tensors[f'img{i}.scale_factor'] = scale_factor
            if masks is not None:
                # Bit-packed (numpy.packbits, big-endian bit order), one row of bytes per detection.
                packed = np.packbits(masks.reshape(masks.shape[0], -1).numpy(), axis=1)
                tensors[f'img{i}.masks'] = torch.from_numpy(packed)
                tensors[f'img{i}.mask_ambiguous'] = rec['stat.ambiguous']
            summary.append({'image': i, 'detections': len(dets), 'candidates': int(rec['stat.candidates'].item()),
                            'labels': sorted(set(labels.tolist())),
                            'top_score': round(float(dets[0, 4]), 4) if len(dets) else None,
                            'mask_pixels': int(masks.sum()) if masks is not None else None})
    write_safetensors(os.path.join(OUT, f'{name}.reference.safetensors'), tensors, {'config': name})
    return summary


def key_list(cfg):
    model = Detector(cfg)
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def main():
    os.makedirs(OUT, exist_ok=True)
    images = make_images(7)
    write_safetensors(os.path.join(OUT, 'images.safetensors'),
                      OrderedDict((f'img{i}', torch.from_numpy(im)) for i, im in enumerate(images)), {})
    report = {}
    for seed, kind in ((1900, 'faster_rcnn'), (1910, 'retinanet'), (1920, 'mask_rcnn')):
        report[kind] = build_fixture(kind, seed, images)
        print(kind, json.dumps(report[kind]))
    keys = {}
    for kind in ('faster_rcnn', 'retinanet', 'mask_rcnn'):
        for eca in (False, True):
            name = f'{kind}_r50rla{"eca" if eca else ""}_fpn'
            keys[name] = key_list(make_config(kind, eca))
    with open(os.path.join(OUT, 'released_keys.json'), 'w') as f:
        json.dump(keys, f)
    with open(os.path.join(OUT, 'summary.json'), 'w') as f:
        json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
