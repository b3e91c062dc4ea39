"""CIFAR-10 ResNet-20 (He et al. 2016, option-A shortcuts; README, "CIFAR-10").

The per-channel normalisation lives inside the model, so attacks work in [0, 1] pixel space. LRP walks it
through its canonizer (utils/lrp/canonizers.py: batch norms merged, residual sums as explicit nodes).
"""
import torch
import torch.nn.functional as F
from torch import nn

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    def __init__(self, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class ShortcutA(nn.Module):
    """Option A: subsample by 2 and zero-pad the new channels (no parameters)."""

    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = stride != 1 or in_planes != planes
        self.shortcut = ShortcutA(planes) if self.downsample else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    input_shape = (3, 32, 32)
    # floats held per image and sample by LRP and input gradients, in units of the largest activation
    # (the residual trace keeps ~34 activations): sizes the memory-bounded chunks (networks.chunk_sizes)
    activation_factor = 48

    def __init__(self, num_blocks=(3, 3, 3), num_classes=10):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for planes, stride, n in zip((16, 32, 64), (1, 2, 2), num_blocks):
            for s in [stride] + [1] * (n - 1):
                blocks.append(BasicBlock(in_planes, planes, s))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(self.normalize(x))))
        out = self.blocks(out)
        return self.linear(out.mean((2, 3)))

    @property
    def learnable_layers(self):
        return [38]  # the reference's label for the output layer (relevance starts at the logits)


def build_resnet20(seed=0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNet20()
