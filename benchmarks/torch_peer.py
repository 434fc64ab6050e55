"""The PyTorch peer of the benchmarks: FM / DeepFM with the chapter's formulas, pytorch-fm's
layout (throughput.py trains it on dense tables, store_training.py on sparse ones)."""
import torch
from torch import nn


class DeepFM(nn.Module):
    """`fc` + `linear_layer` (first order), `embedding` (pairwise through square_of_sum and
    sum_of_square) and, unless mlp_dims is empty (FM), an MLP over the same embeddings; Xavier
    init; outputs a probability. sparse: the tables' gradients are sparse (for SparseAdam)."""

    def __init__(self, num_inputs, num_fields, k, mlp_dims=(), dropout=0.0, sparse=False):
        super().__init__()
        self.num_fields, self.k = num_fields, k
        self.embedding = nn.Embedding(num_inputs, k, sparse=sparse)
        self.fc = nn.Embedding(num_inputs, 1, sparse=sparse)
        self.linear_layer = nn.Linear(1, 1)
        layers, dim = [], num_fields * k
        for hidden in mlp_dims:
            layers += [nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout)]
            dim = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(dim, 1)) if layers else None
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, x):
        e = self.embedding(x)
        square_of_sum = e.sum(dim=1) ** 2
        sum_of_square = (e ** 2).sum(dim=1)
        out = self.linear_layer(self.fc(x).sum(dim=1)) \
            + 0.5 * (square_of_sum - sum_of_square).sum(dim=1, keepdim=True)
        if self.mlp is not None:
            out = out + self.mlp(e.reshape(-1, self.num_fields * self.k))
        return torch.sigmoid(out)
