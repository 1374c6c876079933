"""The one shape of fastloss.torch's argument errors: ``[fastloss.torch.<function>] <message>``."""


def fail(fn: str, message: str, exc: type = ValueError):
    raise exc(f"[fastloss.torch.{fn}] {message}")
