"""Bring your own model, objectives and data: the README example, import paths, sources."""

import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hyperjax
from hyperjax.data import sources
from hyperjax.pareto import load_pareto_model, train_front

REPO = pathlib.Path(__file__).resolve().parents[1]


def readme_example() -> str:
  text = (REPO / "README.md").read_text()
  match = re.search(r"<!-- own-model-example -->\s*```python\n(.*?)```", text, re.S)
  assert match, "README.md lost its own-model example block"
  return match.group(1)


@pytest.mark.slow
def test_readme_own_model_example_runs_as_written(tmp_path):
  code = readme_example()
  assert len(code.strip().splitlines()) <= 30
  script = tmp_path / "example.py"
  script.write_text(code)
  env = dict(os.environ, PYTHONPATH=str(REPO))
  done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                        text=True, env=env, timeout=600, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  workdir = tmp_path / "runs" / "own_model"
  results = json.loads((workdir / "results.json").read_text())
  for name in ("config.json", "metrics.jsonl", "pareto_front.png", "best", "checkpoints"):
    assert (workdir / name).exists(), name
  losses = np.asarray(results["test_losses"])
  assert losses.shape == (25, 2) and results["objective_names"] == ["sin", "cos"]
  # A real trade-off: the ray that weights 'sin' most has the lower sin loss, and vice versa.
  assert losses[0, 0] < losses[-1, 0] and losses[0, 1] > losses[-1, 1]
  assert 0 < results["hypervolume"] < 1.0
  assert np.asarray(results["test_mae"]).shape == (25, 2)
  assert results["run"]["versions"]["jax"] == jax.__version__
  # Re-running the finished example changes nothing on disk.
  before = {p: p.stat().st_mtime for p in workdir.rglob("*")}
  again = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=600, check=False)
  assert again.returncode == 0, again.stderr[-3000:]
  assert "nothing to do" in again.stdout
  assert before == {p: p.stat().st_mtime for p in workdir.rglob("*")}


def regression_data(n=1200, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, 2)).astype(np.float32)
  y = np.stack([np.sin(2 * x[:, 0]), np.cos(2 * x[:, 1])], 1).astype(np.float32)
  return x, y


def small_run(workdir, data, **overrides):
  kwargs = dict(target="tests.user_models:TwoOutputRegressor",
                objective=hyperjax.pareto.per_output_mse(), num_objectives=2,
                hypernet={"family": "mlp", "kwargs": {"hidden": (16,)}},
                optimizer={"name": "adam", "learning_rate": 3e-3}, batch_size=50, num_epochs=4,
                num_eval_rays=5, eval_batch_size=128, reference_point=(1.5, 1.5), log_every=4)
  kwargs.update(overrides)
  return train_front(str(workdir), data=data, **kwargs)


def split(x, y):
  return {"train": (x[:800], y[:800]), "val": (x[800:1000], y[800:1000]),
          "test": (x[1000:], y[1000:])}


@pytest.fixture(scope="module")
def nnx_run(tmp_path_factory):
  x, y = regression_data()
  workdir = tmp_path_factory.mktemp("nnx")
  return workdir, small_run(workdir, split(x, y)), (x, y)


def test_import_path_nnx_target_trains_and_loads_in_a_fresh_process(nnx_run):
  workdir, results, (x, y) = nnx_run
  config = json.loads((workdir / "config.json").read_text())
  assert config["target"]["name"] == "tests.user_models:TwoOutputRegressor"
  code = textwrap.dedent(f"""
      import json, numpy as np
      from hyperjax.pareto import load_pareto_model
      model = load_pareto_model({str(workdir)!r})
      out = model.predict([[0.5, 0.5]], np.load({str(workdir / 'x.npy')!r}))
      print(json.dumps([np.asarray(o).tolist() for o in out]))
  """)
  np.save(workdir / "x.npy", x[1000:1004])
  done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  fresh = np.asarray(json.loads(done.stdout.strip().splitlines()[-1]))
  model = load_pareto_model(str(workdir))
  here = np.asarray(model.predict([[0.5, 0.5]], x[1000:1004]))
  np.testing.assert_allclose(fresh, here, rtol=1e-5, atol=1e-6)
  assert fresh.shape == (2, 1, 4)


def test_own_objective_run_resumes_exactly(nnx_run, tmp_path):
  workdir, results, (x, y) = nnx_run
  resumed = tmp_path / "resumed"
  small_run(resumed, split(x, y), num_epochs=2)
  final = small_run(resumed, split(x, y))
  assert final["test_losses"] == results["test_losses"]
  read = lambda d: [json.loads(l) for l in open(d / "metrics.jsonl")]
  assert read(resumed) == read(workdir)


def test_record_source_and_iterable_give_the_array_run(nnx_run, tmp_path):
  """The same batches from a random-access source of records, and from an iterable of
  batches, train to the same numbers as the arrays."""
  workdir, results, (x, y) = nnx_run
  records = [{"x": x[i], "y": y[i]} for i in range(800)]
  data = split(x, y)
  data["train"] = records
  from_records = small_run(tmp_path / "records", data)
  np.testing.assert_allclose(from_records["test_losses"], results["test_losses"], rtol=1e-5)

  src = sources.ArraySource((x[:800], y[:800]))
  batches = [src.train_batch(s, 50, 0) for s in range(16)]  # one epoch
  data = split(x, y)
  data["train"] = lambda: iter(batches)  # a generator function: restarted every pass
  from_iterable = small_run(tmp_path / "iterable", data, num_epochs=None, num_steps=64,
                            eval_every=16)
  np.testing.assert_allclose(from_iterable["test_losses"][0], results["test_losses"][0],
                             rtol=0.5)  # other epoch orders: a run of its own, close
  assert len([l for l in open(tmp_path / "iterable" / "metrics.jsonl") if '"eval"' in l]) == 4


def test_sources_read_arrays_records_and_iterables():
  x, y = regression_data(10)
  arrays = sources.as_source((x, y))
  records = sources.as_source([(x[i], y[i]) for i in range(10)])
  for s in (arrays, records):
    batch = s.train_batch(3, 4, seed=1)
    np.testing.assert_array_equal(batch[0], arrays.take(
        hyperjax.data.pipeline.batch_indices(10, 4, 1, 3))[0])
    assert [len(b[0]) for b in s.eval_batches(4)] == [4, 4, 2]
  gen = sources.as_source(lambda: iter([(x[:2], y[:2]), (x[2:4], y[2:4])]))
  assert [float(gen.train_batch(s)[0][0, 0]) for s in (0, 1, 2, 3)] == [
      float(x[0, 0]), float(x[2, 0])] * 2
  assert sources.batch_field({"image": x, "label": y}, None, "labels") is y
  with pytest.raises(KeyError, match="known labels key"):
    sources.batch_field({"a": x}, None, "labels")


def test_objectives_against_numpy():
  rng = np.random.default_rng(0)
  p0, p1 = rng.normal(size=(2, 16)).astype(np.float32)
  t = rng.normal(size=(16, 2)).astype(np.float32)
  losses, metrics = hyperjax.pareto.per_output_mse()((p0, p1), (None, t))
  np.testing.assert_allclose(losses, [np.mean((p0 - t[:, 0]) ** 2), np.mean((p1 - t[:, 1]) ** 2)],
                             rtol=1e-6)
  np.testing.assert_allclose(metrics["mae"][1], np.mean(np.abs(p1 - t[:, 1])), rtol=1e-6)
  logits = rng.normal(size=(2, 16, 5)).astype(np.float32)
  labels = rng.integers(0, 5, (16, 2))
  losses, metrics = hyperjax.pareto.per_head_cross_entropy()(tuple(logits), {"y": labels})
  logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  for i in range(2):
    np.testing.assert_allclose(losses[i], -logp[i, np.arange(16), labels[:, i]].mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["accuracy"][i],
                               np.mean(logits[i].argmax(-1) == labels[:, i]))


def test_three_objectives_with_an_own_function(tmp_path):
  """Any number of objectives: three MSEs on one output, written by the user."""
  x, y = regression_data()
  y3 = np.concatenate([y, (y[:, :1] * y[:, 1:])], 1)

  def three_losses(outputs, batch):
    _, target = batch
    pred = jnp.stack(outputs[:2] + (outputs[0] * outputs[1],), 1)
    return jnp.mean((pred - target) ** 2, axis=0)

  results = small_run(tmp_path / "three", split(x, y3), objective=three_losses,
                      num_objectives=3, reference_point=(2.0, 2.0, 2.0), num_eval_rays=6,
                      num_epochs=1)
  assert np.asarray(results["test_losses"]).shape[1] == 3
  assert results["hypervolume"] > 0


def test_bad_inputs_are_refused_clearly(tmp_path):
  x, y = regression_data(100)
  with pytest.raises(ValueError, match="Unknown target 'nonet'"):
    small_run(tmp_path / "a", split(x, y), target="nonet")
  with pytest.raises(ValueError, match="Cannot import module 'nopkg"):
    small_run(tmp_path / "b", split(x, y), target="nopkg.models:Net")
  with pytest.raises(ValueError, match="num_epochs or num_steps"):
    small_run(tmp_path / "c", split(x, y), num_steps=10)
  with pytest.raises(ValueError, match="needs a 'train' split"):
    small_run(tmp_path / "d", {"test": (x, y)})
  assert not any((tmp_path / d).exists() for d in "abcd")


def test_register_target_gives_a_short_name():
  from tests.user_models import TwoHeadMLP  # pylint: disable=g-import-not-at-top
  hyperjax.register_target("two_head_mlp_test", TwoHeadMLP, input_shape=(6,), overwrite=True)
  target = hyperjax.make_target("two_head_mlp_test", hidden=4)
  assert target.num_params == 6 * 4 + 4 + 2 * (4 * 10 + 10) and target.input_shape == (6,)
  with pytest.raises(ValueError, match="already registered"):
    hyperjax.register_target("two_head_mlp_test", TwoHeadMLP)
  target.spec.check(target.init_weights(jax.random.key(0)))


@pytest.mark.slow
def test_launcher_config_naming_a_target_by_import_path(tmp_path):
  """A user's config names their module by import path: it trains from the command line,
  resumes, and loads back in a fresh process."""
  config_file = tmp_path / "my_config.py"
  config_file.write_text(textwrap.dedent('''
      from configs import common, phn_multi_mnist

      def get_config(arg=None):
        config = phn_multi_mnist.get_config(arg)
        config.target = common.block("name", "tests.user_models:TwoHeadMLP", hidden=16)
        config.hypernet.kwargs.hidden = (8,)
        config.data.source, config.data.num_train, config.data.num_test = "embedded", 1200, 300
        config.num_eval_rays, config.log_every = 3, 2
        return config
  '''))
  workdir = tmp_path / "run"
  env = dict(os.environ, PYTHONPATH=str(REPO), HYPERJAX_CACHE_DIR=str(tmp_path / "cache"))
  command = [sys.executable, "-m", "launch.train", f"--config={config_file}:ls,tiny",
             f"--workdir={workdir}"]
  first = subprocess.run(command + ["--config.num_epochs=1"], cwd=REPO, capture_output=True,
                         text=True, env=env, timeout=600, check=False)
  assert first.returncode == 0, first.stderr[-3000:]
  assert "TwoHeadMLP" in first.stdout
  second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=600, check=False)
  assert second.returncode == 0, second.stderr[-3000:]
  assert "Resuming from the checkpoint" in second.stdout
  results = json.loads((workdir / "results.json").read_text())
  assert results["num_params"]["target"] == 36 * 36 * 16 + 16 + 2 * (16 * 10 + 10)
  code = (f"from hyperjax.pareto import load_pareto_model; import numpy as np; "
          f"m = load_pareto_model({str(workdir)!r}); "
          f"print([l.shape for l in m.predict([[0.3, 0.7]], np.zeros((2, 36, 36, 1), 'float32'))])")
  fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300, check=False)
  assert fresh.returncode == 0, fresh.stderr[-3000:]
  assert "[(1, 2, 10), (1, 2, 10)]" in fresh.stdout
