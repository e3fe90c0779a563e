"""The consumer pages' words in English, French and Spanish, and picking one language.

The catalogue is plain Python: a few dozen messages do not need gettext. A
message missing in a language falls back to English, so a new message never
breaks a page.
"""

from __future__ import annotations

LANGUAGES = ("en", "fr", "es")
DEFAULT_LANGUAGE = "en"

_EN: dict[str, str] = {
    "page_title": "Product check",
    "verdict.authentic": "Authentic product",
    "verdict.suspect": "Check advised",
    "verdict.counterfeit": "Not genuine",
    "verdict.unverifiable": "Cannot confirm",
    "reason.GENUINE": "This is a genuine product, registered by its brand.",
    "reason.CHECK_ADVISED": (
        "The code is genuine, but this unit is not where or as it should be. Ask the seller or "
        "contact the brand before using it."
    ),
    "reason.NOT_GENUINE": (
        "This code is not genuine. The product may be a counterfeit: do not use it, and tell "
        "the seller or the brand."
    ),
    "reason.CANNOT_CONFIRM": (
        "This code cannot be confirmed right now. Try again later or contact the brand."
    ),
    "reason.LOT_RECALLED": "This lot has been recalled by the brand. Do not use the product.",
    "reason.CODE_EXPIRED": "This product is past its expiry date.",
    "facts": "Product",
    "fact.brand": "Brand",
    "fact.gtin": "GTIN",
    "fact.serial": "Serial number",
    "fact.lot": "Lot",
    "fact.expiry": "Expiry date",
    "fact.unknown": "unknown",
    "next": "What to do next",
    "next.authentic": "Nothing to do. Keep the packaging until you have used the product.",
    "next.suspect": "Do not use the product until the seller or the brand has confirmed it.",
    "next.counterfeit": "Do not use the product. Keep it and the receipt, and report it.",
    "next.unverifiable": "Try again later, or ask the brand.",
    "verdict.recalled": "Recalled: do not use",
    "verdict.expired": "Expired: do not use",
    "next.recalled": "Do not use the product. Return it to the seller or ask the brand what to do.",
    "next.expired": "Do not use the product. Ask a pharmacist or the seller how to dispose of it.",
    "reason.UNIT_RECALLED": "This unit has been recalled by the brand. Do not use the product.",
    "contact": "Contact the brand",
    "report": "Report a suspected fake",
    "report.where": "Where did you buy it? (shop, website; optional)",
    "report.what": "What looks wrong? (optional)",
    "report.send": "Send report",
    "report.thanks": "Thank you. Your report was sent to the brand.",
    "report.privacy": "Do not enter your name or contact details: we do not need them.",
    "location.share": "Share my location to help detect fakes",
    "location.note": "Optional. Only an approximate area (about 10 km) is kept.",
    "location.thanks": "Thank you: location added.",
    "location.failed": "Location not shared.",
    "back": "Back to the product",
    "error.title": "This is not a code we can check",
    "error.text": "The link is incomplete or damaged. Scan the code on the pack again.",
    "scan.title": "Scan a product code",
    "scan.intro": "Point your camera at the QR code or DataMatrix on the pack.",
    "scan.start": "Start camera",
    "scan.photo": "Or take a photo of the code",
    "scan.send": "Check photo",
    "scan.working": "Checking…",
    "scan.none": "No code was found in the photo. Try again closer, with more light.",
    "footer": "sealtrace product check. No tracking, no account.",
}

_FR: dict[str, str] = {
    "page_title": "Vérification du produit",
    "verdict.authentic": "Produit authentique",
    "verdict.suspect": "Vérification conseillée",
    "verdict.counterfeit": "Produit non authentique",
    "verdict.unverifiable": "Vérification impossible",
    "reason.GENUINE": "Ce produit est authentique et enregistré par sa marque.",
    "reason.CHECK_ADVISED": (
        "Le code est authentique, mais cet exemplaire n'est pas là où il devrait être. "
        "Demandez au vendeur ou contactez la marque avant de l'utiliser."
    ),
    "reason.NOT_GENUINE": (
        "Ce code n'est pas authentique. Le produit est peut-être une contrefaçon : ne l'utilisez "
        "pas et prévenez le vendeur ou la marque."
    ),
    "reason.CANNOT_CONFIRM": (
        "Ce code ne peut pas être vérifié pour le moment. Réessayez plus tard ou contactez la "
        "marque."
    ),
    "reason.LOT_RECALLED": "Ce lot a été rappelé par la marque. N'utilisez pas le produit.",
    "reason.CODE_EXPIRED": "La date de péremption de ce produit est dépassée.",
    "facts": "Produit",
    "fact.brand": "Marque",
    "fact.gtin": "GTIN",
    "fact.serial": "Numéro de série",
    "fact.lot": "Lot",
    "fact.expiry": "Date de péremption",
    "fact.unknown": "inconnue",
    "next": "Que faire ?",
    "next.authentic": "Rien à faire. Gardez l'emballage jusqu'à utilisation du produit.",
    "next.suspect": "N'utilisez pas le produit avant confirmation du vendeur ou de la marque.",
    "next.counterfeit": "N'utilisez pas le produit. Gardez-le avec le ticket et signalez-le.",
    "next.unverifiable": "Réessayez plus tard ou interrogez la marque.",
    "verdict.recalled": "Rappelé : ne pas utiliser",
    "verdict.expired": "Périmé : ne pas utiliser",
    "next.recalled": (
        "N'utilisez pas le produit. Rapportez-le au vendeur ou demandez conseil à la marque."
    ),
    "next.expired": (
        "N'utilisez pas le produit. Demandez au pharmacien ou au vendeur comment l'éliminer."
    ),
    "reason.UNIT_RECALLED": "Cet article a été rappelé par la marque. N'utilisez pas le produit.",
    "contact": "Contacter la marque",
    "report": "Signaler une contrefaçon",
    "report.where": "Où l'avez-vous acheté ? (magasin, site ; facultatif)",
    "report.what": "Qu'est-ce qui semble anormal ? (facultatif)",
    "report.send": "Envoyer le signalement",
    "report.thanks": "Merci. Votre signalement a été transmis à la marque.",
    "report.privacy": "N'indiquez ni votre nom ni vos coordonnées : nous n'en avons pas besoin.",
    "location.share": "Partager ma position pour aider à détecter les contrefaçons",
    "location.note": "Facultatif. Seule une zone approximative (environ 10 km) est conservée.",
    "location.thanks": "Merci : position ajoutée.",
    "location.failed": "Position non partagée.",
    "back": "Retour au produit",
    "error.title": "Ce code ne peut pas être vérifié",
    "error.text": "Le lien est incomplet ou abîmé. Scannez à nouveau le code sur l'emballage.",
    "scan.title": "Scanner un code produit",
    "scan.intro": "Visez le QR code ou le DataMatrix de l'emballage avec l'appareil photo.",
    "scan.start": "Activer la caméra",
    "scan.photo": "Ou prenez le code en photo",
    "scan.send": "Vérifier la photo",
    "scan.working": "Vérification…",
    "scan.none": "Aucun code trouvé sur la photo. Rapprochez-vous, avec plus de lumière.",
    "footer": "Vérification sealtrace. Sans pistage, sans compte.",
}

_ES: dict[str, str] = {
    "page_title": "Comprobación del producto",
    "verdict.authentic": "Producto auténtico",
    "verdict.suspect": "Se recomienda comprobar",
    "verdict.counterfeit": "Producto no auténtico",
    "verdict.unverifiable": "No se puede confirmar",
    "reason.GENUINE": "Este producto es auténtico y está registrado por su marca.",
    "reason.CHECK_ADVISED": (
        "El código es auténtico, pero esta unidad no está donde debería. Pregunte al vendedor "
        "o contacte con la marca antes de usarlo."
    ),
    "reason.NOT_GENUINE": (
        "Este código no es auténtico. El producto puede ser una falsificación: no lo use y "
        "avise al vendedor o a la marca."
    ),
    "reason.CANNOT_CONFIRM": (
        "Este código no se puede confirmar ahora. Inténtelo más tarde o contacte con la marca."
    ),
    "reason.LOT_RECALLED": "La marca ha retirado este lote. No use el producto.",
    "reason.CODE_EXPIRED": "Este producto ha caducado.",
    "facts": "Producto",
    "fact.brand": "Marca",
    "fact.gtin": "GTIN",
    "fact.serial": "Número de serie",
    "fact.lot": "Lote",
    "fact.expiry": "Fecha de caducidad",
    "fact.unknown": "desconocida",
    "next": "Qué hacer ahora",
    "next.authentic": "Nada. Conserve el envase hasta usar el producto.",
    "next.suspect": "No use el producto hasta que el vendedor o la marca lo confirme.",
    "next.counterfeit": "No use el producto. Guárdelo con el recibo y denúncielo.",
    "next.unverifiable": "Inténtelo más tarde o pregunte a la marca.",
    "verdict.recalled": "Retirado: no lo use",
    "verdict.expired": "Caducado: no lo use",
    "next.recalled": "No use el producto. Devuélvalo al vendedor o consulte a la marca.",
    "next.expired": "No use el producto. Pregunte en la farmacia o al vendedor cómo desecharlo.",
    "reason.UNIT_RECALLED": "La marca ha retirado esta unidad. No use el producto.",
    "contact": "Contactar con la marca",
    "report": "Denunciar una posible falsificación",
    "report.where": "¿Dónde lo compró? (tienda, web; opcional)",
    "report.what": "¿Qué parece sospechoso? (opcional)",
    "report.send": "Enviar denuncia",
    "report.thanks": "Gracias. Su denuncia se ha enviado a la marca.",
    "report.privacy": "No escriba su nombre ni sus datos de contacto: no los necesitamos.",
    "location.share": "Compartir mi ubicación para ayudar a detectar falsificaciones",
    "location.note": "Opcional. Solo se guarda una zona aproximada (unos 10 km).",
    "location.thanks": "Gracias: ubicación añadida.",
    "location.failed": "Ubicación no compartida.",
    "back": "Volver al producto",
    "error.title": "Este código no se puede comprobar",
    "error.text": "El enlace está incompleto o dañado. Vuelva a escanear el código del envase.",
    "scan.title": "Escanear un código de producto",
    "scan.intro": "Apunte la cámara al código QR o DataMatrix del envase.",
    "scan.start": "Activar la cámara",
    "scan.photo": "O haga una foto del código",
    "scan.send": "Comprobar la foto",
    "scan.working": "Comprobando…",
    "scan.none": "No se encontró ningún código en la foto. Acérquese, con más luz.",
    "footer": "Comprobación sealtrace. Sin rastreo, sin cuenta.",
}

CATALOGUE: dict[str, dict[str, str]] = {"en": _EN, "fr": _FR, "es": _ES}


def translate(lang: str, key: str) -> str:
    """The message ``key`` in ``lang``, else in English, else the key itself."""
    return CATALOGUE.get(lang, _EN).get(key) or _EN.get(key, key)


def pick_language(accept_language: str | None, override: str | None = None) -> str:
    """The best of :data:`LANGUAGES` for an Accept-Language header; ``override`` (the
    ``lang`` query parameter) wins when it names a supported language."""
    if override is not None and override.lower()[:2] in LANGUAGES:
        return override.lower()[:2]
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for position, item in enumerate((accept_language or "")[:500].split(",")):
        parts = item.strip().split(";")
        tag = parts[0].strip().lower()
        quality = 1.0
        for param in parts[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.split("-")[0]
        # Earlier entries win ties, as the header lists preferences in order.
        score = quality - position * 1e-6
        if primary in LANGUAGES and quality > 0 and score > best_q:
            best, best_q = primary, score
    return best
