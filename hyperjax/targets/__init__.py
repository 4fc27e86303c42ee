"""The target zoo: Flax Linen networks that hypernetworks generate weights for.

``make_target(name, **kwargs)`` builds a :class:`~hyperjax.target.Target` by registered
name or by import path (``'mypkg.models:TwoHeadNet'``); :func:`register_target` adds a
short name. The module classes are exported for direct use.
"""

from __future__ import annotations

from hyperjax.targets.decision import DecisionVector
from hyperjax.targets.lenet import MultiTaskLeNet, paretomtl_lenet, phn_lenet
from hyperjax.targets.mlp import MLP
from hyperjax.targets.registry import (TargetEntry, import_object, make_target, register_target,
                                       target_entry, target_names)
from hyperjax.targets.resnet import CifarResNet, MultiTaskResNet18
from hyperjax.targets.student_cnn import MultiTaskCNN
from hyperjax.targets.static_nets import MnistTwoConv, VGGBlockNet
from hyperjax.targets.wide_resnet import WideResNet

register_target("phn_lenet", phn_lenet, input_shape=(36, 36, 1))
register_target("paretomtl_lenet", paretomtl_lenet, input_shape=(36, 36, 1))
register_target("mlp", MLP, input_shape=(28, 28, 1), output_kwarg="num_outputs")
register_target("cifar_resnet", CifarResNet, input_shape=(32, 32, 3), takes_train=True)
register_target("phn_resnet18", MultiTaskResNet18, input_shape=(36, 36, 1), takes_train=True)
register_target("mnist_two_conv", MnistTwoConv, input_shape=(28, 28, 1))
register_target("vgg_blocks", VGGBlockNet, input_shape=(32, 32, 3), takes_train=True,
                uses_dropout=True)
register_target("wide_resnet", WideResNet, input_shape=(32, 32, 3), takes_train=True)
register_target("student_cnn", MultiTaskCNN, input_shape=(36, 36, 1), takes_train=True,
                uses_dropout=True)
register_target("decision_vector", DecisionVector, input_shape=(1,), output_kwarg="dim")

TARGET_NAMES = target_names()

__all__ = [
    "CifarResNet", "DecisionVector", "MLP", "MnistTwoConv", "MultiTaskCNN", "MultiTaskLeNet",
    "MultiTaskResNet18",
    "TARGET_NAMES", "TargetEntry", "VGGBlockNet", "WideResNet", "import_object", "make_target",
    "paretomtl_lenet", "phn_lenet", "register_target", "target_entry", "target_names",
]
