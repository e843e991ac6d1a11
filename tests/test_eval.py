import torch
from torch import nn

from carbide._eval import accuracy, predict


def test_predict_batches_restores_mode_and_builds_no_graph():
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
        model.bias.zero_()
    model.train()
    x = torch.tensor([[2.0, 0, 0], [0, 2.0, 0], [0, 3.0, 0], [5.0, 1.0, 0], [0, 0, 1.0]])
    labels = predict(model, x, batch_size=2)
    assert labels.tolist() == [0, 1, 1, 0, 0] and not labels.requires_grad
    assert model.training
    assert accuracy(model, x, torch.tensor([0, 1, 0, 0, 0]), batch_size=3) == 0.8
    assert accuracy(model, x[:0], torch.zeros(0, dtype=torch.long)) == 0.0
