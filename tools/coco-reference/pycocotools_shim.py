"""pycocotools' `_mask` extension re-created with ctypes over its own C code (common/maskApi.c), for machines
where pycocotools cannot be installed (no Cython, no network). Only the functions coco.py, cocoeval.py and mask.py
call are provided; each does what the same function in PythonAPI/pycocotools/_mask.pyx does."""
import ctypes
import os
import subprocess
import tempfile

import numpy as np

siz = ctypes.c_ulong
uint = ctypes.c_uint


class RLE(ctypes.Structure):
    _fields_ = [('h', siz), ('w', siz), ('m', siz), ('cnts', ctypes.POINTER(uint))]


def build_library(cocoapi):
    """Compiles cocoapi/common/maskApi.c into a shared library; returns the loaded ctypes library."""
    out = os.path.join(tempfile.mkdtemp(prefix='maskapi-'), 'libmaskapi.so')
    source = os.path.join(cocoapi, 'common', 'maskApi.c')
    subprocess.run(['gcc', '-O2', '-shared', '-fPIC', '-o', out, source, '-lm'], check=True)
    lib = ctypes.CDLL(out)
    lib.rleToString.restype = ctypes.c_void_p
    return lib


def make_module(lib):
    """The `_mask` module functions bound to `lib`, as a dict."""
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]

    def rles(n):
        return (RLE * max(n, 1))()

    def to_string(rs, n):
        objs = []
        for i in range(n):
            p = lib.rleToString(ctypes.byref(rs[i]))
            objs.append({'size': [rs[i].h, rs[i].w], 'counts': ctypes.string_at(p)})
            libc.free(p)
        return objs

    def fr_string(objs):
        rs = rles(len(objs))
        for i, obj in enumerate(objs):
            counts = obj['counts'].encode() if isinstance(obj['counts'], str) else obj['counts']
            lib.rleFrString(ctypes.byref(rs[i]), ctypes.c_char_p(counts), siz(obj['size'][0]), siz(obj['size'][1]))
        return rs

    def merge(objs, intersect=0):
        rs = fr_string(objs)
        r = rles(1)
        lib.rleMerge(rs, r, siz(len(objs)), ctypes.c_int(intersect))
        return to_string(r, 1)[0]

    def area(objs):
        rs = fr_string(objs)
        a = (uint * max(len(objs), 1))()
        lib.rleArea(rs, siz(len(objs)), a)
        return np.array(a[: len(objs)], dtype=np.uint32)

    def to_bbox(objs):
        rs = fr_string(objs)
        bb = (ctypes.c_double * (4 * max(len(objs), 1)))()
        lib.rleToBbox(rs, bb, siz(len(objs)))
        return np.array(bb[: 4 * len(objs)], dtype=np.double).reshape((len(objs), 4))

    def fr_bbox(bb, h, w):
        bb = np.ascontiguousarray(np.array(bb, dtype=np.double).reshape((-1, 4)))
        n = bb.shape[0]
        rs = rles(n)
        lib.rleFrBbox(rs, bb.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), siz(h), siz(w), siz(n))
        return to_string(rs, n)

    def fr_poly(polys, h, w):
        rs = rles(len(polys))
        for i, p in enumerate(polys):
            xy = np.ascontiguousarray(np.array(p, dtype=np.double))
            lib.rleFrPoly(ctypes.byref(rs[i]), xy.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                          siz(len(p) // 2), siz(h), siz(w))
        return to_string(rs, len(polys))

    def fr_uncompressed(objs, h, w):
        out = []
        for obj in objs:
            counts = (uint * max(len(obj['counts']), 1))(*obj['counts'])
            r = rles(1)
            r[0] = RLE(siz(obj['size'][0]), siz(obj['size'][1]), siz(len(obj['counts'])), counts)
            out.append(to_string(r, 1)[0])
        return out

    def fr_py_objects(pyobj, h, w):
        if type(pyobj) == np.ndarray:
            return fr_bbox(pyobj, h, w)
        if type(pyobj) == list and len(pyobj[0]) == 4:
            return fr_bbox(pyobj, h, w)
        if type(pyobj) == list and len(pyobj[0]) > 4:
            return fr_poly(pyobj, h, w)
        if type(pyobj) == list and type(pyobj[0]) == dict and 'counts' in pyobj[0] and 'size' in pyobj[0]:
            return fr_uncompressed(pyobj, h, w)
        if type(pyobj) == list and len(pyobj) == 4:
            return fr_bbox([pyobj], h, w)[0]
        if type(pyobj) == list and len(pyobj) > 4:
            return fr_poly([pyobj], h, w)[0]
        if type(pyobj) == dict and 'counts' in pyobj and 'size' in pyobj:
            return fr_uncompressed([pyobj], h, w)[0]
        raise Exception('input type is not supported.')

    def iou(dt, gt, pyiscrowd):
        def preproc(objs):
            if len(objs) == 0:
                return objs
            if type(objs) == np.ndarray:
                return objs.astype(np.double)
            isbox = np.all(np.array([(len(o) == 4) and (type(o) in (list, np.ndarray)) for o in objs]))
            isrle = np.all(np.array([type(o) == dict for o in objs]))
            if isbox:
                return np.array(objs, dtype=np.double).reshape((-1, 4))
            if isrle:
                return ('rle', fr_string(objs), len(objs))
            raise Exception('list input can be bounding box (Nx4) or RLEs ([RLE])')

        iscrowd = np.ascontiguousarray(np.array(pyiscrowd, dtype=np.uint8))
        dt, gt = preproc(dt), preproc(gt)
        m = 0 if len(dt) == 0 else (dt[2] if isinstance(dt, tuple) else dt.shape[0])
        n = 0 if len(gt) == 0 else (gt[2] if isinstance(gt, tuple) else gt.shape[0])
        if m == 0 or n == 0:
            return []
        out = (ctypes.c_double * (m * n))()
        crowd = iscrowd.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))
        if isinstance(dt, tuple):
            lib.rleIou(dt[1], gt[1], siz(m), siz(n), crowd, out)
        else:
            d = np.ascontiguousarray(dt)
            g = np.ascontiguousarray(gt)
            lib.bbIou(d.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                      g.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), siz(m), siz(n), crowd, out)
        return np.array(out[:], dtype=np.double).reshape((m, n), order='F')

    return {
        'iou': iou, 'merge': merge, 'frPyObjects': fr_py_objects, 'area': area, 'toBbox': to_bbox,
        'frBbox': fr_bbox, 'frPoly': fr_poly, 'frUncompressedRLE': fr_uncompressed,
    }


def install(cocoapi):
    """Makes `import pycocotools.coco / cocoeval / mask` work from the checkout's Python files and this `_mask`."""
    import importlib.util
    import sys
    import types

    np.float = float  # cocoeval.py (2018) uses np.float, removed in numpy 1.24
    # coco.py imports matplotlib for showAnns only; evaluation never draws.
    for name in ['matplotlib', 'matplotlib.pyplot', 'matplotlib.collections', 'matplotlib.patches']:
        if name not in sys.modules:
            stub = types.ModuleType(name)
            stub.PatchCollection = stub.Polygon = None
            sys.modules[name] = stub
    package = types.ModuleType('pycocotools')
    package.__path__ = [os.path.join(cocoapi, 'PythonAPI', 'pycocotools')]
    sys.modules['pycocotools'] = package
    mask_ext = types.ModuleType('pycocotools._mask')
    mask_ext.__dict__.update(make_module(build_library(cocoapi)))
    sys.modules['pycocotools._mask'] = mask_ext
    package._mask = mask_ext
    for name in ['mask', 'coco', 'cocoeval']:
        path = os.path.join(cocoapi, 'PythonAPI', 'pycocotools', f'{name}.py')
        spec = importlib.util.spec_from_file_location(f'pycocotools.{name}', path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[f'pycocotools.{name}'] = module
        setattr(package, name, module)
        spec.loader.exec_module(module)
