"""Calling Valor's value service from a Python trainer.

    pip install grpcio==1.76.0 grpcio-tools==1.76.0
    python services/value/examples/python_client.py 127.0.0.1:50051

Stubs are generated from the same protos as the TypeScript code, into a
temporary folder, so nothing generated is committed for Python.
"""
from __future__ import annotations

import importlib
import pathlib
import sys
import tempfile

import grpc
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[3]
PROTO = ROOT / "proto"


def load_stubs():
    out = pathlib.Path(tempfile.mkdtemp(prefix="valor-py-"))
    files = ["valor/common/v1/reward.proto", "valor/value/v1/value.proto"]
    code = protoc.main(["protoc", f"-I{PROTO}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
    if code != 0:
        raise RuntimeError("protoc failed")
    sys.path.insert(0, str(out))
    return importlib.import_module("valor.value.v1.value_pb2"), importlib.import_module("valor.value.v1.value_pb2_grpc"), importlib.import_module("valor.common.v1.reward_pb2")


def main(address: str) -> None:
    value_pb2, value_grpc, reward_pb2 = load_stubs()
    with grpc.insecure_channel(address) as channel:
        stub = value_grpc.ValueServiceStub(channel)
        # Feed the current policy's outcomes (8 rollouts each) into its context...
        observations = [
            value_pb2.Observation(prompt_id=f"c{i}", text=text, rewards=rewards)
            for i, (text, rewards) in enumerate(
                [("7+2=", [1] * 8), ("35*4=", [1, 1, 1, 0, 1, 0, 1, 1]), ("12*7-5=", [0, 0, 1, 0, 0, 0, 0, 0])] * 4
            )
        ]
        stub.Observe(
            value_pb2.ObserveRequest(
                policy_id="my-run", policy_version=7, batch_id="step-7",
                reward_scale=reward_pb2.REWARD_SCALE_BINARY, observations=observations,
            ),
            timeout=10,
        )
        # ...then ask for priors on new prompts, with a deadline.
        reply = stub.Predict(
            value_pb2.PredictRequest(
                policy_id="my-run", policy_version=7,
                prompts=[value_pb2.PromptText(prompt_id="q1", text="4+5="), value_pb2.PromptText(prompt_id="q2", text="(13-48)*6=")],
            ),
            timeout=10,
        )
        for prompt, p in zip(["4+5=", "(13-48)*6="], reply.pass_rates):
            print(f"{prompt:12s} p̂ = {p:.3f}")
        print(f"context: {reply.provenance.context_size} rows, age {reply.provenance.context_age}, no_context={reply.no_context}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051")
