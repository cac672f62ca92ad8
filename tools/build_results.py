"""Build archlib/data/results.csv: the bundled published results, one row per model variant
and source, each with the registered archlib model (and knobs) it opens as.

Sources: archlib/data/paper_results.csv (shared/reference, checked; every row kept as it
is, with its citation, conflicts and "unverified" notes) plus a few torchvision weight
rows that the reference lacks (EXTRA below; each cites torchvision's weights metadata and
is cross-checked here against archlib's analytic parameter count).

A row gets `archlib_model` only when that model is registered now, so the bundled file
never names a model that cannot open. Rows added to results.csv by hand are kept as they
are. Rerun after a family lands:
    python tools/build_results.py
"""
from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Any

import archlib
from archlib.data.results import format_knobs

DATA = Path(archlib.__file__).parent / "data"
TV_SOURCE = ("torchvision 0.29.1 weights metadata (WeightsEnum meta: _metrics acc@1/acc@5, num_params, _ops), "
             "as in torchvision/models/{file} (added by archlib, not in shared/reference)")
# (family, builder, weights, acc1, acc5, params, gmacs, resize, file)
EXTRA = [
    ("ResNet", "resnet18", "ResNet18_Weights.IMAGENET1K_V1", 69.758, 89.078, 11689512, 1.814, 256, "resnet.py"),
    ("ResNet", "resnet34", "ResNet34_Weights.IMAGENET1K_V1", 73.314, 91.420, 21797672, 3.664, 256, "resnet.py"),
    ("ResNet", "resnet101", "ResNet101_Weights.IMAGENET1K_V1", 77.374, 93.546, 44549160, 7.801, 256, "resnet.py"),
    ("ResNet", "resnet101", "ResNet101_Weights.IMAGENET1K_V2", 81.886, 95.780, 44549160, 7.801, 232, "resnet.py"),
    ("ResNet", "resnet152", "ResNet152_Weights.IMAGENET1K_V1", 78.312, 94.046, 60192808, 11.514, 256, "resnet.py"),
    ("ResNet", "resnet152", "ResNet152_Weights.IMAGENET1K_V2", 82.284, 96.002, 60192808, 11.514, 232, "resnet.py"),
    ("VGG", "vgg11", "VGG11_Weights.IMAGENET1K_V1", 69.020, 88.628, 132863336, 7.609, 256, "vgg.py"),
    ("VGG", "vgg13", "VGG13_Weights.IMAGENET1K_V1", 69.928, 89.246, 133047848, 11.308, 256, "vgg.py"),
    ("VGG", "vgg19", "VGG19_Weights.IMAGENET1K_V1", 72.376, 90.876, 143667240, 19.632, 256, "vgg.py"),
    ("ViT", "vit_b_16", "ViT_B_16_Weights.IMAGENET1K_V1", 81.072, 95.318, 86567656, 17.564, 256,
     "vision_transformer.py"),
]
#: reference family names -> the archlib family names used on the page
FAMILY = {"ResNet-50": "ResNet", "VGG16": "VGG"}
DEVICE_GROUPS = (("Pixel 1", "Pixel 1 CPU"), ("V100", "V100 GPU"), ("Snapdragon 820", "Snapdragon 820 CPU"))


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def _mobilenet_v3(r: dict[str, str]) -> str | None:
    text = (r["variant"] + " " + r["model"]).lower()
    if "minimal" in text:
        return None
    return "mobilenet_v3_large" if "large" in text else "mobilenet_v3_small" if "small" in text else None


def _mnasnet(r: dict[str, str]) -> str | None:
    text = r["model"].lower()
    if any(t in text for t in ("a2", "a3", "search", "small")):
        return None
    if "a1" in text:
        return "mnasnet_a1"
    w = _num(r["width_mult"]) or 1.0
    return {0.5: "mnasnet0_5", 0.75: "mnasnet0_75", 1.3: "mnasnet1_3"}.get(w, "mnasnet1_0")


def _regnet(r: dict[str, str]) -> str | None:
    """torchvision rows: its builder; pycls and timm rows: the pycls model (timm's name), since
    torchvision's regnet_x_400mf, regnet_y_800mf and regnet_y_8gf are different networks."""
    if r["kind"] == "torchvision":
        return r["model"]
    if r["kind"] == "timm":
        return r["model"].split(".")[0]
    m = re.search(r"(\d+(?:\.\d+)?)\s*([MG])F", r["variant"] + " " + r["model"], re.I)
    if not m:
        return None
    num = float(m.group(1))
    code = round(num / 100) if m.group(2).upper() == "M" else round(num * 10)
    return f"regnet{'x' if r['family'] == 'RegNetX' else 'y'}_{code:03d}"


def _shufflenet_v2(r: dict[str, str]) -> str | None:
    w = _num(r["width_mult"])
    return f"shufflenet_v2_x{str(w).replace('.', '_')}" if w else None


def _efficientnet(r: dict[str, str]) -> str | None:
    m = re.search(r"b([0-7])", (r["variant"] + " " + r["model"]).lower())
    return f"efficientnet_b{m.group(1)}" if m else None


def _efficientnet_v2(r: dict[str, str]) -> str | None:
    v = r["variant"].strip().lower()
    return f"efficientnet_v2_{v}" if v in ("s", "m", "l") else None


def _squeezenet(r: dict[str, str]) -> str | None:
    return "squeezenet1_1" if "1_1" in r["model"] or "1.1" in r["model"] else "squeezenet1_0"


CANDIDATE = {
    "MobileNetV1": lambda r: "mobilenet_v1", "MobileNetV2": lambda r: "mobilenet_v2",
    "MobileNetV3": _mobilenet_v3, "MnasNet": _mnasnet, "ShuffleNetV2": _shufflenet_v2,
    "ShuffleNetV1": lambda r: None, "NASNet": lambda r: None, "EfficientNet": _efficientnet,
    "EfficientNetV2": _efficientnet_v2, "RegNetX": _regnet, "RegNetY": _regnet,
    "ResNet-50": lambda r: "resnet50", "AlexNet": lambda r: "alexnet", "VGG16": lambda r: "vgg16",
    "GoogLeNet": lambda r: "googlenet", "SqueezeNet": _squeezenet,
    "ResNet": lambda r: r["model"], "VGG": lambda r: r["model"], "ViT": lambda r: r["model"],
}


def knobs_for(model: str, r: dict[str, str]) -> dict[str, Any]:
    """The knobs (besides the model's own defaults) that give this row's configuration."""
    cfg = archlib.config(model)
    want: dict[str, Any] = {}
    w, res = _num(r["width_mult"]), _num(r["input_res"])
    if w is not None and "width" in cfg and r["family"] not in ("EfficientNet", "EfficientNetV2"):
        want["width"] = w
    if res is not None and "resolution" in cfg:
        want["resolution"] = int(res)
    if r["family"] == "ResNet-50" and r["source"].startswith("He et al."):
        want["stride_on"] = "1x1"  # the paper's own ResNet is v1 (stride on the first 1x1 conv)
    if r["family"] == "MobileNetV3" and r["kind"] != "torchvision":
        want["scaling"] = "tf"  # the authors' checkpoints (and timm's ports) scale width the TF-slim way
    return {k: v for k, v in archlib.config(model, **want).items() if v != cfg[k]}


def map_row(r: dict[str, str], registered: set[str], pending: set[str]) -> tuple[str, str]:
    model = CANDIDATE[r["family"]](r)
    if model is None:
        return "", ""
    if model not in registered:
        pending.add(model)
        return "", ""
    return model, format_knobs(knobs_for(model, r))


def latency_group(device: str) -> str:
    return next((label for key, label in DEVICE_GROUPS if key in device), device[:40])


def extra_rows(fields: list[str]) -> list[dict[str, str]]:
    out = []
    for fam, builder, weights, a1, a5, params, gmacs, resize, file in EXTRA:
        row = dict.fromkeys(fields, "")
        row.update(family=fam, model=builder, variant=weights, kind="torchvision", source_type="library",
                   input_res="224", top1_pct=f"{a1:g}", top5_pct=f"{a5:g}", params_M=f"{params / 1e6:.6f}",
                   macs_M=f"{gmacs * 1000:g}", macs_as_reported="torchvision 'GFLOPS' (_ops) - actually GMACs",
                   source=TV_SOURCE.format(file=file), source_location=f"{weights} meta",
                   notes=f"eval transform: resize {resize}, center-crop 224")
        out.append(row)
    return out


def check_extra(rows: list[dict[str, str]]) -> None:
    """Refuse to write an EXTRA row whose parameter count archlib does not reproduce exactly."""
    for r in rows:
        if r["archlib_model"]:
            t = archlib.analyze(r["archlib_model"]).totals()
            want = round(float(r["params_M"]) * 1e6)
            if t["params"] != want or round(t["macs"] / 1e9, 3) != float(r["macs_M"]) / 1e3:
                sys.exit(f"{r['model']}: archlib counts {t['params']:,} parameters and {t['macs']:,} MACs; "
                         f"torchvision says {want:,} and {r['macs_M']}M")
            r["verified_against"] = "archlib analytic parameter count (exact) and MACs (to _ops' 3 decimals)"


def _key(r: dict[str, str]) -> tuple[str, ...]:
    return (r["model"], r["variant"], r["kind"], r["source"])


def kept_rows(generated: list[dict[str, str]], columns: list[str]) -> list[dict[str, str]]:
    """Rows added to results.csv by hand (e.g. by a family's author), kept as they are."""
    path = DATA / "results.csv"
    if not path.exists():
        return []
    ours = {_key(r) for r in generated}
    with open(path, newline="") as f:
        return [{c: r.get(c, "") for c in columns} for r in csv.DictReader(f) if _key(r) not in ours]


def main() -> None:
    with open(DATA / "paper_results.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    rows += extra_rows(fields)
    registered, pending = set(archlib.list_models()), set()
    for r in rows:
        r["archlib_model"], r["archlib_knobs"] = map_row(r, registered, pending)
        r["family"] = FAMILY.get(r["family"], r["family"])
        r["latency_group"] = latency_group(r["latency_device"]) if r["latency_ms"] else ""
    check_extra(rows[-len(EXTRA):])
    out = fields + ["latency_group", "archlib_model", "archlib_knobs"]
    rows += kept_rows(rows, out)
    with open(DATA / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, out, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    mapped = sum(bool(r["archlib_model"]) for r in rows)
    print(f"wrote {len(rows)} rows ({mapped} open in archlib) to {DATA / 'results.csv'}")
    if pending:
        print("not registered yet (rerun when they are):", ", ".join(sorted(pending)))


if __name__ == "__main__":
    main()
