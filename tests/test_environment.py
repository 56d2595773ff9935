"""The environment record: CPU model and instruction sets (known /proc/cpuinfo texts), torch's
dispatch level and BLAS, and the record in every run's result file."""

import json
import sys

import pytest

from entangled import environment as env

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes avx f16c avx2 bmi2
processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme
"""

XEON = """model name : Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags : sse4_2 avx avx2 fma f16c avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 amx_tile amx_bf16
"""

GRAVITON = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp asimddp sve
CPU implementer\t: 0x41
CPU part\t: 0xd40
"""


@pytest.mark.parametrize("text, cpu, flags", [
    (EPYC, "AMD EPYC 7B13", "sse4_2 avx f16c fma avx2"),  # the first processor's line wins
    (XEON, "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
     "sse4_2 avx f16c fma avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 "
     "amx_tile amx_bf16"),
    (GRAVITON, "CPU part 0xd40", "asimd asimddp sve"),
    ("", None, None),
])
def test_cpuinfo_known_texts(text, cpu, flags):
    assert env.parse_cpuinfo(text) == {"cpu": cpu, "cpu_flags": flags}


def test_flags_summary_keeps_only_numeric_extensions_in_a_fixed_order():
    assert env.cpu_flags_summary("AVX2 fpu avx512f sse4_2") == "sse4_2 avx2 avx512f"
    assert env.cpu_flags_summary(["neon"]) == "neon"
    assert env.cpu_flags_summary("fpu vme") == ""


def test_machine_label_names_cpu_instruction_sets_dispatch_and_gpu():
    record = {"cpu": "AMD EPYC 7B13", "cpu_flags": "avx fma avx2", "torch_cpu_capability": "AVX2"}
    assert env.machine_label(record) == "AMD EPYC 7B13 (avx fma avx2; torch AVX2)"
    assert env.machine_label({**record, "gpu": "NVIDIA H100"}).endswith("+ NVIDIA H100")
    assert env.machine_label({"torch": "2.13.0"}) == "unknown machine"  # an older result file


def test_this_process_record_is_plain_json_and_agrees_with_torch():
    import torch

    record = env.environment()
    assert json.loads(json.dumps(record)) == record
    assert record["torch"] == torch.__version__
    assert record["torch_threads"] == torch.get_num_threads()
    assert record["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["cpus"] >= 1 and isinstance(record["cpu_flags"], (str, type(None)))
    if sys.platform.startswith("linux"):
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            assert record["cpu"] and record["cpu"] in handle.read()
    if record["gpu"] is None:
        assert record["cuda"] is None and not torch.cuda.is_available()


def test_every_run_result_file_records_the_cpu(tmp_path):
    """A real (tiny) training run through the sweep: its JSON file names the CPU model, the
    instruction sets and torch's dispatch level beside the versions."""
    from entangled.sweep import result_path, run_sweep

    summary = run_sweep([{"arch": "rnn", "task": "parity", "steps": 2, "metrics": False,
                          "task_options": {"length": 4}}], tmp_path, progress=False)
    data = json.loads(result_path(tmp_path, summary.hashes[0]).read_text())
    record = data["environment"]
    expected = env.machine()
    for key in ("cpu", "cpu_flags", "torch_cpu_capability", "torch_blas", "torch", "numpy"):
        assert record[key] == expected[key], key
    assert "torch_threads" in record
    if sys.platform.startswith("linux"):
        assert record["cpu"] is not None
