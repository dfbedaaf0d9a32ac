"""Reading a block's options (INI strings) with messages that name the key, the value and what
is allowed."""


class Options:
    def __init__(self, family, options):
        self.family = family
        self.left = dict(options)

    def integer(self, key, default, low=1, high=1 << 30):
        raw = self.left.pop(key, None)
        if raw is None:
            return default
        try:
            v = int(raw)
        except ValueError:
            raise ValueError(f"{self.family}.{key} = {raw}: not an integer (allowed: {low}..{high})") from None
        if not low <= v <= high:
            raise ValueError(f"{self.family}.{key} = {raw}: out of range (allowed: {low}..{high})")
        return v

    def real(self, key, default, low=0.0, high=1e9):
        raw = self.left.pop(key, None)
        if raw is None:
            return default
        try:
            v = float(raw)
        except ValueError:
            raise ValueError(f"{self.family}.{key} = {raw}: not a number (allowed: {low}..{high})") from None
        if not low <= v <= high:
            raise ValueError(f"{self.family}.{key} = {raw}: out of range (allowed: {low}..{high})")
        return v

    def choice(self, key, default, allowed):
        raw = self.left.pop(key, None)
        if raw is None:
            return default
        if raw not in allowed:
            raise ValueError(f"{self.family}.{key} = {raw}: not allowed (allowed: {', '.join(allowed)})")
        return raw

    def done(self):
        if self.left:
            key = sorted(self.left)[0]
            raise ValueError(f"{self.family}.{key} = {self.left[key]}: unknown option for {self.family}")
