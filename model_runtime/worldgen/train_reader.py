"""Train the notes reader's classifiers on the generator's own captions, and report its accuracy on the
validation split's captions (no bpy).

    python -m model_runtime.worldgen.train_reader --layouts 1500 --val 840 --report docs/reports/notes_reader.md

Training captions: training-split scene seeds 0..L-1 (run seed 0, never a validation seed), two sampled
moves each, `captions.caption_for` as the data renderer calls it; each caption also once with some of its
clauses left out (their fields labelled `none`) and clauses shuffled, so the classifiers learn when the
notes do not say. One multinomial logistic regression per field on the MiniLM embedding (scikit-learn,
seeded), written as JSON (reader_weights.json). Validation: `split.val_plan(n)` scenes -> layouts -> the
moves and captions the data renderer makes for them (render.render_clip's seeds), never trained on; the
accuracy of the whole reader (describe(): rules, classifiers, the seed for what is unset), of the
classifiers alone and of the rules alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from model_runtime.data.captions import TIME_WORDS, caption_for
from model_runtime.data.layout import INTERIORS, sample_layout
from model_runtime.data.moves import MOVES, sample_move
from model_runtime.data.split import is_val_seed, val_plan
from model_runtime.worldgen.notes_reader import CLASSIFIED, NONE, WEIGHTS, classify, load_weights, read_notes

LABEL_OF = {"setting": "setting", "time_of_day": "time_of_day", "weather": "weather", "camera_move": "move",
            "camera_height": "camera_height", "lens": "lens", "camera_speed": "speed"}


def _clauses(caption: str, labels: dict[str, str], setting: str) -> dict[str, str]:
    """The caption's pieces by what they say: weather, place, time, lights, height, motion, lens."""
    parts = caption.split(", ")
    scene = parts[0]
    time_phrase = next(p for p in TIME_WORDS[labels["time_of_day"]] if scene.endswith(" " + p))
    head = scene[: -len(time_phrase) - 1]
    place = labels["place"]
    assert head.endswith(place), (caption, place)
    out = {"weather": head[: -len(place)].strip(), "place": place, "time": time_phrase}
    rest = parts[1:]
    if setting in INTERIORS:
        out["lights"], rest = rest[0], rest[1:]
    out["height"], out["motion"], out["lens"] = rest[0], ", ".join(rest[1:-1]), rest[-1]  # "handheld, shaky"
    return out


def _speed_label(clauses: dict[str, str], labels: dict[str, str]) -> str:
    motion = clauses.get("motion")
    return labels["speed"] if motion and motion.startswith(labels["speed"] + " ") else NONE


def example_labels(clauses: dict[str, str], labels: dict[str, str], setting: str) -> dict[str, str]:
    """The classifier labels of a caption made of `clauses` (a field without its clause is `none`)."""
    interior = setting in INTERIORS
    return {"setting": labels["setting"] if "place" in clauses else NONE,
            "time_of_day": labels["time_of_day"] if "time" in clauses else NONE,
            "weather": labels["weather"] if (("place" in clauses) if interior else bool(clauses.get("weather")))
            else NONE,
            "camera_move": labels["move"] if "motion" in clauses else NONE,
            "camera_height": labels["camera_height"] if "height" in clauses else NONE,
            "lens": labels["lens"] if "lens" in clauses else NONE,
            "camera_speed": _speed_label(clauses, labels)}


def _join(clauses: dict[str, str], rng: np.random.Generator, shuffle: bool) -> str:
    scene = " ".join(clauses[k] for k in ("weather", "place", "time") if clauses.get(k))
    rest = [clauses[k] for k in ("lights", "height", "motion", "lens") if k in clauses]
    pieces = [scene] + rest if scene else rest
    if shuffle:
        pieces = [pieces[i] for i in rng.permutation(len(pieces))]
    return ", ".join(pieces) or clauses.get("lens", "")


def training_examples(n_layouts: int, seed: int = 0) -> list[tuple[str, dict[str, str]]]:
    rng = np.random.default_rng([seed, 0x7EA])
    examples = []
    for scene_seed in range(n_layouts):
        assert not is_val_seed(scene_seed)
        layout = sample_layout(scene_seed)
        for m in range(2):
            kind = MOVES[int(rng.integers(len(MOVES)))]
            move = sample_move(np.random.default_rng([scene_seed, 0xCA3, m]), kind, layout.stage,
                               layout.setting in INTERIORS)
            caption, labels = caption_for(layout, move, np.random.default_rng([scene_seed, 0xCAF, m]))
            clauses = _clauses(caption, labels, layout.setting)
            examples.append((caption, example_labels(clauses, labels, layout.setting)))
            kept = {k: v for k, v in clauses.items() if rng.random() >= 0.4}
            if not kept:
                kept = {"lens": clauses["lens"]}
            examples.append((_join(kept, rng, rng.random() < 0.5), example_labels(kept, labels, layout.setting)))
    return examples


def validation_examples(n: int) -> list[tuple[str, dict[str, str]]]:
    """The validation clips' captions and labels, made with the data renderer's own seeds."""
    out = []
    for plan in val_plan(n):
        layout = sample_layout(plan.scene_seed, plan.setting, plan.time_of_day, None)
        move = sample_move(np.random.default_rng([plan.scene_seed, 0xCA3]), plan.move, layout.stage,
                           layout.setting in INTERIORS)
        out.append(caption_for(layout, move, np.random.default_rng([plan.scene_seed, 0xCAF])))
    return out


def fit(examples: list[tuple[str, dict[str, str]]], seed: int = 0) -> dict:
    from sklearn.linear_model import LogisticRegression

    from model_runtime.world.text import embed_notes

    x = embed_notes([text for text, _ in examples])
    out = {"format": "oyster-notes-reader", "version": 1, "embedding": "all-MiniLM-L6-v2 (384, unit length)",
           "examples": len(examples), "fields": {}}
    for name in CLASSIFIED:
        y = [labels[name] for _, labels in examples]
        model = LogisticRegression(C=4.0, max_iter=2000, random_state=seed).fit(x, y)
        out["fields"][name] = {"classes": [str(c) for c in model.classes_],
                               "coef": np.round(model.coef_, 5).tolist(),
                               "intercept": np.round(model.intercept_, 5).tolist()}
    return out


def evaluate(examples: list[tuple[str, dict[str, str]]]) -> dict[str, dict[str, float]]:
    """Per field: accuracy of the reader's description, of the classifiers alone, of the rules alone."""
    from model_runtime.world.text import embed_notes
    from model_runtime.worldgen.describe import describe

    weights = load_weights()
    probs = classify(embed_notes([text for text, _ in examples]))
    fields = ("setting", "time_of_day", "weather", "camera_move", "camera_height", "lens", "camera_speed")
    hits = {kind: {f: 0 for f in fields} for kind in ("reader", "classifier", "rules")}
    totals = {f: 0 for f in fields}
    for i, (text, labels) in enumerate(examples):
        description = describe(text, 0)
        rules = read_notes(text, use_classifier=False).fields
        for f in fields:
            truth = labels[LABEL_OF[f]]
            if f == "camera_speed" and labels["move"] in ("static", "whip_pan", "handheld"):
                continue  # the caption has no speed word for these moves
            totals[f] += 1
            hits["reader"][f] += description["fields"][f]["value"] == truth
            classes = weights[f][0]
            hits["classifier"][f] += classes[int(probs[f][i].argmax())] == truth
            hits["rules"][f] += rules.get(f, (None,))[0] == truth
    return {kind: {f: hits[kind][f] / max(totals[f], 1) for f in fields} for kind in hits} | {
        "n": {f: totals[f] for f in fields}}


def report(path: Path, command: str, results: dict[str, dict], train_n: int, seconds: float) -> None:
    fields = ("setting", "time_of_day", "weather", "camera_move", "camera_height", "lens", "camera_speed")
    lines = ["# Notes reader: accuracy on the validation split's captions", "",
             "Made by (CPU, about {:.0f} s here):".format(seconds), "", "```sh", command, "```", "",
             f"Trained on {train_n:,} captions of training-split scenes (half of them with clauses left out, "
             "labelled `none`); evaluated on captions of validation-split scenes, never trained on "
             "(`split.val_plan`, the data renderer's own move and caption seeds). The reader is "
             "`describe(notes, seed=0)`: keyword rules first, the classifiers for what the rules leave, the "
             "seed for the rest (docs/world_from_notes.md). Target: setting, time of day and weather at least "
             "90% each.", ""]
    for name, result in results.items():
        lines += [f"## {name}", "", "| field | clips | reader | classifier alone | rules alone |",
                  "|---|---|---|---|---|"]
        for f in fields:
            lines.append(f"| {f} | {result['n'][f]} | {100 * result['reader'][f]:.1f}% | "
                         f"{100 * result['classifier'][f]:.1f}% | {100 * result['rules'][f]:.1f}% |")
        lines.append("")
    lines += ["camera_speed counts only the moves whose captions say a speed (not static, whip pan, handheld).",
              ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime.worldgen.train_reader")
    parser.add_argument("--layouts", type=int, default=1500, help="training scenes (two captions each, doubled)")
    parser.add_argument("--val", type=int, default=840, help="validation scenes for the larger evaluation")
    parser.add_argument("--report", type=Path, default=Path("docs/reports/notes_reader.md"))
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--eval-only", action="store_true", help="evaluate the saved weights")
    args = parser.parse_args(argv)
    start = time.time()
    examples = training_examples(args.layouts)
    if not args.eval_only:
        weights = fit(examples)
        args.out.write_text(json.dumps(weights, separators=(",", ":")))
        load_weights.cache_clear()
        print(f"fitted {len(CLASSIFIED)} fields on {len(examples)} captions -> {args.out}", flush=True)
    results = {"validation split, 24 clips (the rendered data/val)": evaluate(validation_examples(24)),
               f"validation scenes 1,000,000,000 + 0..{args.val - 1} ({args.val} clips)":
                   evaluate(validation_examples(args.val))}
    for name, result in results.items():
        print(name, json.dumps({k: {f: round(v, 3) for f, v in r.items()} for k, r in result.items()}))
    command = "python -m model_runtime.worldgen.train_reader " + " ".join(argv if argv is not None else sys.argv[1:])
    report(args.report, command.strip(), results, len(examples), time.time() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
