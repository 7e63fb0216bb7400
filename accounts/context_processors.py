from .personas import Persona, personas_of, primary_persona


def persona(request):
    mine = personas_of(request.user)
    return {
        "persona": primary_persona(request.user),
        "personas": mine,
        "Persona": Persona,
        "is_admin": Persona.ADMIN in mine,
        "is_executive": Persona.EXECUTIVE in mine,
        "is_account_manager": Persona.ACCOUNT_MANAGER in mine,
        "is_cx": Persona.CX in mine,
    }
