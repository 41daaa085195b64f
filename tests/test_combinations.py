"""Every combination of options that validation accepts runs to the end — train, evaluate,
generate, save, reload, report — and every one it refuses is refused before training,
in one line. (A stateful model with a features window once trained and then crashed in
generation, losing the training.)"""

import itertools
import json

import pytest

import lstmlab

FACTORS = [
    ["timestep-window", "stateful", "variable-length"],  # stateless, stateful, subsequences
    ["timesteps", "features"],
    ["scaled", "onehot"],
    ["1", "3"],        # window
    ["1", "4"],        # batch size (4 does not divide the stateful sample counts)
    ["lstm", "gru", "rnn"],  # cell
    ["1", "2"],        # layers
]
VALID = [combo for combo in itertools.product(*FACTORS)
         if not (combo[1] == "features" and combo[3] == "1")]  # = timesteps for one symbol


def pairs(combo):
    return {(i, combo[i], j, combo[j]) for i, j in itertools.combinations(range(len(combo)), 2)}


def pairwise(valid):
    """A set of combinations holding every pair of values that some valid combination
    holds (greedy, deterministic): each option's interaction with each other option is
    run, in a fraction of the full product. Written here: a dozen lines, no dependency."""
    todo, chosen = set().union(*map(pairs, valid)), []
    while todo:
        best = max(valid, key=lambda c: len(pairs(c) & todo))
        chosen.append(best)
        todo -= pairs(best)
    return chosen


GRID = pairwise(VALID)


def test_the_pairwise_set_covers_every_pair_of_the_full_product():
    assert len(GRID) < len(VALID) / 2
    assert set().union(*map(pairs, GRID)) == set().union(*map(pairs, VALID))
    # negative control: one combination fewer misses a pair
    assert set().union(*map(pairs, GRID[:-1])) != set().union(*map(pairs, VALID))


@pytest.mark.slow
@pytest.mark.parametrize("preset, framing, encoding, window, batch, cell, layers", GRID)
def test_accepted_combinations_run_to_the_end(run_cli, tmp_path, preset, framing, encoding,
                                              window, batch, cell, layers):
    out = tmp_path / "run"
    code, text, err = run_cli("run", preset, "--framing", framing, "--encoding", encoding,
                              "--window", window, "--batch-size", batch, "--epochs", "2",
                              "--cell", cell, "--layers", layers,
                              "--seeds", "1", "-q", "--out", out)
    assert "Traceback" not in err
    if code == 2:  # refused: one line, before anything was trained or written
        assert len(err.strip().splitlines()) == 1 and err.startswith("lstmlab: error:")
        assert text == "" and not any(out.glob("*/record.json"))
        assert preset == "stateful" and batch == "4", err  # the only refusals expected
        return
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert len(results[preset]["seeds"]) == 1
    model = lstmlab.load(out / preset / "0")
    assert (model.info.cell, model.info.layers) == (cell, int(layers))
    start = "ABC"[:1 if preset == "variable-length" else int(window)]
    generated = model.generate(start, 4)
    assert len(generated) == len(start) + 4 and set(generated) <= set(lstmlab.data.ALPHABET)
    code, text, err = run_cli("models", out)  # the record reads back as valid
    assert code == 0 and err == "" and f"{preset}/0" in text
