"""Sex as recorded in the population database and encoded in the CCCD number."""

from enum import StrEnum


class Sex(StrEnum):
    """Sex of a citizen (giới tính): nam / nữ."""

    MALE = "male"
    FEMALE = "female"
