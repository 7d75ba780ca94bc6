"""Reference networks written directly with torch.nn, after torchvision's definitions
(torchvision itself cannot be installed beside torch 2.13 here). They do not go
through the spec language, so they check the gallery specs independently."""

from __future__ import annotations

from torch import nn

VGG_CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def vgg(name: str, batch_norm: bool = False) -> nn.Module:
    """torchvision.models.vgg.make_layers + VGG (AdaptiveAvgPool2d((7, 7)), classifier)."""
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG_CFGS[name]:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        channels = item
    return nn.Sequential(
        nn.Sequential(*layers),
        nn.AdaptiveAvgPool2d((7, 7)),
        nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
        nn.Linear(4096, 1000),
    )


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def resnet(blocks: list[int]) -> nn.Module:
    """torchvision.models.resnet.ResNet with BasicBlock (resnet18: [2, 2, 2, 2])."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    inplanes = 64
    for index, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks)):
        stage = []
        for block in range(count):
            stride = 2 if index > 0 and block == 0 else 1
            stage.append(BasicBlock(inplanes, planes, stride))
            inplanes = planes
        layers.append(nn.Sequential(*stage))
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


class M5(nn.Module):
    """M5 from the torchaudio speech-command tutorial (n_input=1, n_output=35,
    stride=16, n_channel=32): four Conv1d/BatchNorm1d/ReLU/MaxPool1d(4) stages, average
    pooling over the remaining length, one Linear."""

    def __init__(self, n_input: int = 1, n_output: int = 35, stride: int = 16, n_channel: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.conv4 = nn.Conv1d(2 * n_channel, 2 * n_channel, kernel_size=3)
        self.bn4 = nn.BatchNorm1d(2 * n_channel)
        self.pool4 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x):  # type: ignore[no-untyped-def]
        for conv, bn, pool in ((self.conv1, self.bn1, self.pool1), (self.conv2, self.bn2, self.pool2),
                               (self.conv3, self.bn3, self.pool3), (self.conv4, self.bn4, self.pool4)):
            x = pool(nn.functional.relu(bn(conv(x))))
        x = nn.functional.avg_pool1d(x, x.shape[-1])
        x = self.fc1(x.permute(0, 2, 1))
        return nn.functional.log_softmax(x, dim=2)


class C3D(nn.Module):
    """C3D (Tran et al. 2015) as the common PyTorch port writes it (487 Sports-1M
    classes): eight 3x3x3 convolutions, pool1 1x2x2, pool5 padded (0, 1, 1), fc6 8192."""

    def __init__(self, num_classes: int = 487) -> None:
        super().__init__()

        def conv(c_in: int, c_out: int) -> nn.Conv3d:
            return nn.Conv3d(c_in, c_out, kernel_size=(3, 3, 3), padding=(1, 1, 1))

        self.conv1, self.pool1 = conv(3, 64), nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.conv2, self.pool2 = conv(64, 128), nn.MaxPool3d((2, 2, 2), (2, 2, 2))
        self.conv3a, self.conv3b, self.pool3 = conv(128, 256), conv(256, 256), nn.MaxPool3d((2, 2, 2), (2, 2, 2))
        self.conv4a, self.conv4b, self.pool4 = conv(256, 512), conv(512, 512), nn.MaxPool3d((2, 2, 2), (2, 2, 2))
        self.conv5a, self.conv5b = conv(512, 512), conv(512, 512)
        self.pool5 = nn.MaxPool3d((2, 2, 2), (2, 2, 2), padding=(0, 1, 1))
        self.fc6, self.fc7, self.fc8 = nn.Linear(8192, 4096), nn.Linear(4096, 4096), nn.Linear(4096, num_classes)
        self.relu, self.dropout = nn.ReLU(), nn.Dropout(p=0.5)

    def forward(self, x):  # type: ignore[no-untyped-def]
        relu = self.relu
        x = self.pool1(relu(self.conv1(x)))
        x = self.pool2(relu(self.conv2(x)))
        x = self.pool3(relu(self.conv3b(relu(self.conv3a(x)))))
        x = self.pool4(relu(self.conv4b(relu(self.conv4a(x)))))
        x = self.pool5(relu(self.conv5b(relu(self.conv5a(x)))))
        x = x.reshape(-1, 8192)
        x = self.dropout(relu(self.fc6(x)))
        x = self.dropout(relu(self.fc7(x)))
        return self.fc8(x)
