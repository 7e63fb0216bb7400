from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person who signs in to Tango. What they may do follows from their groups
    (see ``accounts.personas``)."""

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username
