import pytest
import torch

from sptok.modules.semantic import SemanticHead


def test_semantic_head_projects_last_axis():
    head = SemanticHead(16, 12)
    assert head(torch.randn(2, 5, 16)).shape == (2, 5, 12)
    assert set(head.state_dict()) == {"weight", "bias"}
    with pytest.raises(ValueError, match="16"):
        head(torch.randn(2, 16 + 1, 5))
